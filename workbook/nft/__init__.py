"""nftables rulesets: parse ``nft list ruleset`` (text, ``-a``, ``-s``, ``nft -j``), model, print, compare.

- :mod:`.model` — NftRuleset / NftTable / NftChain / NftSet / NftRule (the API the tracer uses);
- :mod:`.statements` — a rule's typed statements; :mod:`.rule_text` — text → statements;
- :mod:`.parse_text` / :mod:`.parse_json` — the two listings into one model;
- :mod:`.printer` — the model back to ``nft list ruleset`` text;
- :mod:`.iptables_nft` — which tables iptables-nft manages; :mod:`.views` — what its two views lose;
- :mod:`.kube_proxy` — kube-proxy's nftables-mode Services in a listing.
"""
