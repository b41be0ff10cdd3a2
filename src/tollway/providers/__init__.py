"""One adapter per provider family: key validation, model listing, LiteLLM params."""
