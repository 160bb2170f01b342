"""Ingestion: files (CSV, NDJSON, Parquet), HTTP payloads, and the shared finalising step."""
