"""Secret stores: where provider API keys live. SQL only ever holds references."""
