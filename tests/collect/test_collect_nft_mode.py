"""A node in kube-proxy's nftables mode, holding conntrack entries of a Service whose endpoint has
since gone, collected over a real sshd and locally: both dumps load back with the nft view and the
conntrack table, and give the same findings."""

from __future__ import annotations

import pytest

from tests.realparts import nsexec
from workbook import check
from workbook.collect import collect_local, collect_ssh
from workbook.dump import load_dump
from workbook.generate import Service, kube_proxy_nft

pytestmark = [pytest.mark.root, pytest.mark.sshd]

DNS = "10.96.0.10"


def _dns(*endpoints: str) -> str:
    return kube_proxy_nft([Service("kube-system", "kube-dns", "dns", "udp", DNS, 53, [(ip, 53) for ip in endpoints])])


def _findings(path) -> list[tuple[str, str, tuple[str, ...]]]:
    dump = load_dump(path)
    assert dump.nft is not None and dump.conntrack_table is not None and len(dump.conntrack_table) >= 5
    return sorted((f.id, str(f.title), tuple(f.fix)) for f in check(dump))


def test_ssh_and_local_collections_of_an_nft_mode_node_agree(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=None)
    nsexec(node.ns, "ip", "route", "add", "default", "dev", "lo")     # a way out for the DNATed queries
    nsexec(node.ns, "nft", "-f", "-", input=_dns("10.244.1.5"))
    nsexec(node.ns, "python3", "-c",
           "import socket\nfor i in range(5):\n"
           "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('', 42000 + i))\n"
           f"    u.sendto(b'q', ('{DNS}', 53))\n")
    nsexec(node.ns, "nft", "flush", "ruleset")                       # the endpoint moved: kube-proxy rewrites
    nsexec(node.ns, "nft", "-f", "-", input=_dns("10.244.2.7"))
    kh = tmp_path / "known_hosts"
    kh.write_text(node.host_key_line)
    res = collect_ssh([node.target], tmp_path / "ssh", identity=user_key, known_hosts=kh, progress=False)
    assert res[0].ok, res[0].error
    local = collect_local(tmp_path / "local", netns=node.ns, progress=False)
    assert local.ok, local.error
    over_ssh, here = _findings(res[0].path), _findings(local.path)
    assert over_ssh == here
    ids = [i for i, _, _ in here]
    assert "kube-proxy-nftables-mode" in ids and "stale-conntrack-entry" in ids
    stale = next(fix for i, _, fix in here if i == "stale-conntrack-entry")
    assert stale == (f"conntrack -D -p udp --orig-dst {DNS} --orig-port-dst 53 --reply-src 10.244.1.5 "
                     "--reply-port-src 53",)
