"""Running the pipeline on one machine: the local queue dispatcher and the crawl command."""
