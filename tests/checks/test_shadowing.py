"""shadowed-rule: proved only for fully understood matches."""

from workbook.checks import check
from workbook.parse import parse_save


def shadow(body):
    return check(parse_save("*filter\n:INPUT ACCEPT [0:0]\n" + body + "COMMIT\n", "s.rules"), families=["shadowing"])


def test_broader_accept_shadows_narrower_rule():
    fs = shadow("-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 1:1024 -j ACCEPT\n"
                "-A INPUT -s 10.1.2.3/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP\n")
    assert [f.id for f in fs] == ["shadowed-rule"]
    f = fs[0]
    # 10.1.2.3/32 ⊂ 10.0.0.0/8, port 22 ∈ 1:1024, any state ⊂ no state condition
    assert f.evidence["position"].tolist() == [2] and f.evidence["shadowed_by_position"].tolist() == [1]
    assert f.evidence["origin"].tolist() == ["s.rules:4"]
    assert "iptables -t filter -D INPUT -s 10.1.2.3/32 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j DROP" in f.fix


def test_multiport_and_state_sets_and_interfaces():
    fs = shadow("-A INPUT -i eth+ -p tcp -m multiport --dports 80,443 -m state --state NEW,ESTABLISHED -j ACCEPT\n"
                "-A INPUT -i eth0 -p tcp -m tcp --dport 443 -m state --state NEW -j ACCEPT\n")
    assert [f.evidence["position"].tolist() for f in fs] == [[2]]


def test_near_misses_do_not_fire():
    cases = [
        # earlier rule is not terminal (LOG continues)
        "-A INPUT -p tcp -j LOG\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
        # earlier rule is narrower
        "-A INPUT -s 10.1.2.3/32 -j ACCEPT\n-A INPUT -s 10.0.0.0/8 -j DROP\n",
        # different protocol
        "-A INPUT -p udp -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
        # port outside the range
        "-A INPUT -p tcp -m tcp --dport 1:1024 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 8080 -j DROP\n",
        # earlier rule has a match we do not reason about (random): cannot prove
        "-A INPUT -m statistic --mode random --probability 0.50000000000 -j ACCEPT\n-A INPUT -j DROP\n",
        # earlier rule negates the address: only identical negations are taken
        "-A INPUT ! -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -s 192.168.0.1/32 -j DROP\n",
        # jump to a user chain may return
        "-A INPUT -p tcp -j KUBE-FIREWALL\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\n",
        # interface wildcard does not cover a different prefix
        "-A INPUT -i eth+ -j ACCEPT\n-A INPUT -i ens5 -j DROP\n",
    ]
    for body in cases:
        text = body if "KUBE-FIREWALL" not in body else body
        rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n" + text + "COMMIT\n", strict=False)
        assert check(rs, families=["shadowing"]) == [], body


def test_exact_duplicates_are_left_to_the_duplicate_finder():
    assert shadow("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n") == []
