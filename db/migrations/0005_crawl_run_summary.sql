-- What a crawl did in a sentence (a discovery: the page budget it used and why it stopped).
ALTER TABLE crawl_runs ADD COLUMN summary text;
