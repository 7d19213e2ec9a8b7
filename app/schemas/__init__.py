"""Request schemas (Pydantic models): they validate every JSON body, query and form, and make /api/openapi.json."""
