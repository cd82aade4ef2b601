"""The crawl pipeline: start, pages, plan, profiles and finish, each an idempotent handler."""
