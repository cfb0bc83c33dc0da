"""The LLM brain: streaming chat models behind the receptionist's promises.

``stream`` holds the typed events every provider client yields, ``sse`` the sans-IO
Server-Sent Events parser both wire formats share, ``openai`` and ``anthropic`` the two
clients.
"""
