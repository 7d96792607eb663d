"""collect: Bright Data snapshots, crawled pages and local files into one document store."""
