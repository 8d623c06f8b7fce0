"""nftables rulesets: parse ``nft list ruleset`` (text, ``-a``, ``-s``, ``nft -j``), model, print."""
