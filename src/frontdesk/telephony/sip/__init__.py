"""A minimal SIP edge: a UDP user agent server answering calls with PCMU RTP.

Sans-IO cores (``message``, ``headers``, ``sdp``, ``rtp``, ``dialog``, ``uas``,
``endpoint``) and the asyncio adapter (``server`` for signalling, ``media`` for RTP,
``call`` bridging one dialog to the call engine)."""
