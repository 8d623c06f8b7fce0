"""Korean for the newer finding families (conntrack, mode switch, blind dumps, kube-proxy nftables):
titles in Korean, fix lines byte for byte the English ones, JSON unchanged."""

import json

from tests.i18n.test_korean import _fix_lines, _hangul, _nfwb
from workbook.dump import save_dump
from workbook.generate import generate_services, kube_proxy_nft, kube_proxy_save

# kube-dns with one endpoint, 10.244.1.5; the conntrack entry's reply comes from 10.244.1.9, which the
# rules no longer list (the pod moved): a stale entry (hand-written like conntrack -L -o extended prints it)
DNS_NAT = """*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.1.5:53" -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SEP-AAAAAAAAAAAAAAAA -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 10.244.1.5:53
COMMIT
"""
STALE = ("ipv4     2 udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=4000 dport=53 "
         "src=10.244.1.9 dst=10.0.0.1 sport=53 dport=4000 mark=0 use=1\n")
SERVICES = generate_services(6, seed=7)


def _both(folder) -> tuple:
    return (_nfwb("check", str(folder), LANG="ko_KR.UTF-8"), _nfwb("check", str(folder), LANG="C.UTF-8"),
            _nfwb("check", str(folder), "--json", LANG="ko_KR.UTF-8"),
            _nfwb("check", str(folder), "--json", LANG="C.UTF-8"))


def test_a_stale_conntrack_entry_in_korean(tmp_path):
    folder = save_dump({"iptables/iptables-save.txt": DNS_NAT, "kernel/conntrack.txt": STALE}, tmp_path / "ct")
    ko, en, ko_json, en_json = _both(folder)
    assert ko.returncode == en.returncode == 1, en.stdout + en.stderr    # a stale entry is an error
    assert "[ERROR] stale-conntrack-entry: 1 conntrack entry of kube-system/kube-dns:dns still go to 1 address" in en.stdout
    # the heading in Korean (hand-written: the glossary's 연결 추적, 엔드포인트)
    assert ("[오류] stale-conntrack-entry: kube-system/kube-dns:dns의 연결 추적(conntrack) 항목 1개가 "
            "더는 엔드포인트가 아닌 주소 1개로 여전히 갑니다") in ko.stdout
    fixes = _fix_lines(en.stdout)
    assert ("    conntrack -D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.1.9 "
            "--reply-port-src 53") in fixes
    assert _fix_lines(ko.stdout) == fixes
    assert ko_json.stdout == en_json.stdout and not _hangul(ko_json.stdout)


def test_mode_switch_leftovers_in_korean(tmp_path):
    # the same cluster in both modes (what the generator writes for iptables-restore and nft -f);
    # kube-proxy says nftables, so the iptables chains are the leftovers
    files = {"iptables/iptables-save.txt": kube_proxy_save(SERVICES), "kernel/nft-ruleset.txt": kube_proxy_nft(SERVICES),
             "kubelet/kube-proxy-mode.txt": "nftables\n"}
    folder = save_dump(files, tmp_path / "switched")
    ko, en, ko_json, en_json = _both(folder)
    assert "[WARNING] mode-switch-leftovers: " in en.stdout, en.stdout + en.stderr
    assert "left beside kube-proxy's nftables table" in en.stdout
    assert "[경고] mode-switch-leftovers: kube-proxy의 nftables 테이블 옆에 남은 kube-proxy iptables 체인" in ko.stdout
    assert "[정보] kube-proxy-nftables-mode: kube-proxy nftables 모드: 서비스 " in ko.stdout
    fixes = _fix_lines(en.stdout)
    assert "    # kube-proxy --cleanup removes every mode's rules (restart kube-proxy afterwards), or by hand:" in fixes
    assert any(f.startswith("    iptables -t nat -F KUBE-SVC-") for f in fixes)
    assert _fix_lines(ko.stdout) == fixes
    assert ko_json.stdout == en_json.stdout and not _hangul(ko_json.stdout)
    assert [f["id"] for f in json.loads(ko_json.stdout)["findings"]].count("mode-switch-leftovers") == 1
