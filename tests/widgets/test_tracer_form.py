"""TracerForm: fill the packet, click Trace, read the verdicts, drawing and steps (real workbook.trace)."""

from __future__ import annotations

import html
import shutil

from workbook.parse import parse_save
from workbook.view.widgets import TracerForm

from tests.realparts import need
from tests.draw.kube_dns_trace import KUBE_DNS_SAVE, SEP_A, SEP_B, SVC

DOT = shutil.which("dot") is not None


def _form():
    return TracerForm(parse_save(KUBE_DNS_SAVE, "kube-dns.rules"), node_ips=["192.168.3.215"])


def test_kube_dns_query_splits_fifty_fifty():
    need(DOT, "needs graphviz's dot (Debian package graphviz)")  # the form shows a real graphviz drawing
    f = _form()
    f.src.value, f.dst.value, f.proto.value, f.dport.value, f.in_iface.value = \
        "192.168.3.9", "10.100.0.10", "udp", 53, "eni1"
    f.run.click()
    summary = html.unescape(f.summary_out.value)
    # KUBE-SVC's first rule has probability 0.5, the second is unconditional: two 50 % DNATs,
    # and 10.100.0.10 is not a node address, so the packet is forwarded and accepted by policy
    assert "50% ACCEPT DNAT → 192.168.1.77:53" in summary.replace("</b>", "").replace("<b>", "")
    assert "50% ACCEPT DNAT → 192.168.2.64:53" in summary.replace("</b>", "").replace("<b>", "")
    assert {b.dnat for b in f.trace.branches} == {"192.168.1.77:53", "192.168.2.64:53"}
    steps = html.unescape(f.steps_out.value)
    assert f"JUMP:{SVC}" in steps and f"JUMP:{SEP_A}" in steps and f"JUMP:{SEP_B}" in steps
    svg = html.unescape(f.graph_out.value)
    assert "<svg" in svg and SEP_A in svg and "50%" in svg


def test_from_node_and_bad_input():
    f = _form()
    f.src.value, f.dst.value = "", "10.100.0.10"
    f.run.click()
    assert "src and dst are needed" in f.summary_out.value
    f.src.value, f.origin.value, f.proto.value, f.dport.value = "192.168.3.215", "node", "udp", 53
    f.run.click()
    # from the node the packet goes OUTPUT → nat OUTPUT has no rules in this dump: no DNAT
    assert f.trace.packet.from_node and all(b.dnat is None for b in f.trace.branches)


def test_node_ip_field_decides_input_or_forward():
    f = _form()
    f.src.value, f.dst.value, f.proto.value, f.dport.value = "192.168.3.9", "192.168.3.215", "tcp", 22
    f.run.click()
    # 192.168.3.215 is in the node IPs given to the form: delivered locally (INPUT)
    assert any(s.hook == "INPUT" for s in f.trace.branches[0].steps)
    f.node_ips_text.value = "10.0.0.1"
    f.run.click()
    # now it is someone else's address: forwarded
    assert f.node_ips == ["10.0.0.1"]
    assert any(s.hook == "FORWARD" for s in f.trace.branches[0].steps)


def test_error_clears_the_old_trace():
    need(DOT, "needs graphviz's dot (Debian package graphviz)")
    f = _form()
    f.src.value, f.dst.value, f.proto.value, f.dport.value = "192.168.3.9", "10.100.0.10", "udp", 53
    f.run.click()
    assert f.trace is not None and "<svg" in f.graph_out.value and f.steps_out.value
    f.dst.value = "not-an-address"
    f.run.click()
    # the error is shown and nothing of the previous packet's trace is left under it
    assert "color:#c62828" in f.summary_out.value
    assert f.trace is None and f.graph_out.value == "" and f.steps_out.value == ""
