"""The benchmark: crawl throughput against the Graph write limit, requests, memory (issue 6)."""
