"""serve: chat with a registered model, and an OpenAI-compatible server."""
