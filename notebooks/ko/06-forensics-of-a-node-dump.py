# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · 노드 덤프 포렌식
#
# 새벽 3시에는 재현하지 않고 **수집**합니다. 노드의 규칙, 모듈, 주소를 한 번 떠 두고, 그다음에 차분히
# 뜯어봅니다. 이 노트북은 덤프를 불러와 몇 가지 각도에서 살펴보고, 무엇이 잘못됐는지를 고치는 명령과
# 함께 나열합니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 1 · 덤프란
#
# 명령마다 파일 하나씩, 그리고 어떤 명령이 어떤 파일을 언제, 어떤 종료 코드로 만들었는지 적은
# `MANIFEST.json`이 든 폴더입니다(**nfwb-dump/1** 형식). 로더는 EKS 로그 수집기 아카이브, sosreport,
# 파일만 모아 둔 폴더도 읽습니다.
#
# 여기서 덤프를 고르세요(이 노트북은 `datasets/eks-node`를 기준으로 썼지만 어떤 덤프든 됩니다).

# %% tags=["parameters"]
DUMP = DATASETS / "eks-node"

# %%
dump = wb.load_dump(DUMP)
print(dump.layout, "덤프,", "호스트", dump.manifest.get("host") if dump.manifest else "?", "—", f"규칙셋 {len(dump.rulesets)}개")
import pandas as pd
tidy(pd.DataFrame(dump.manifest["files"])[["path", "command", "exit_code", "size"]]) if dump.manifest else None

# %% [markdown]
# ### 연습 6.1
# `dump.node_ips`는 `ip -o addr`에서 읽은, 이 노드가 가진 주소 목록입니다. 몇 개일까요(루프백과 IPv6
# 포함)? `dump.node_ips`를 찍어 보세요.

# %%
answer = ...  # 숫자

# %%
check_answer("6.1 노드 주소 수", answer, expected=len(dump.node_ips),
             hint="len(dump.node_ips)",
             common={1: "떠올리는 주소는 192.168.3.215이겠지만, 루프백(127.0.0.1, ::1)과 IPv6 링크 로컬 주소도 셉니다."})

# %% [markdown]
# ## 2 · 표로 보는 규칙
#
# 주 IPv4 규칙셋, 그 체인들, 그리고 규칙마다 어느 구성 요소의 것인지(owner):

# %%
rs = dump.ruleset
rs

# %%
rules = rs.rules
rules.fillna({"owner": "(알려진 소유자 없음)"}).groupby(["table", "owner"]).size().rename("rules").reset_index()

# %% [markdown]
# ### 연습 6.2
# 이 노드에서 규칙이 **가장 많은** 체인은? (테이블은 상관없습니다.)

# %%
answer = ...  # 체인 이름

# %%
biggest = rs.chains.sort_values("rules", ascending=False).iloc[0]
check_answer("6.2 가장 큰 체인", answer, expected=biggest["chain"],
             hint="rs.chains를 rules 열로 정렬해 보세요.",
             common={"PREROUTING": "PREROUTING에는 점프 몇 개뿐입니다. 가장 큰 체인은 그 점프가 이끄는 곳에 있습니다."})

# %% [markdown]
# ### 이 노드의 훅
#
# 이 노드의 테이블에서 그린, 어느 체인이 어느 훅에 걸려 있는지입니다.

# %%
wb.draw_hooks(rs)

# %% [markdown]
# ## 3 · nat PREROUTING의 AWS 행들
#
# 원문은 이 노드의 nat PREROUTING도 `column -t`에 통과시켜 찍었습니다. 다른 노트북이 인용하지 않은 원문의
# 유일한 출력입니다. 덤프에 찍힌 그대로 남아 있습니다(원문 인용).

# %%
column_t = dump.text("notes/seed-nat-PREROUTING-column-t.txt")
print(column_t)

# %% [markdown]
# `column -t`는 **모든** 공백에 맞춰 줄을 세우기 때문에 주석이 여러 열로 찢어집니다(`/*`, `AWS,`,
# `outbound`, `connections`, `*/`). 그래도 `wb.parse`는 이를 읽어 규칙을 하나하나 다시 맞춰 놓습니다.

# %%
seen_pre = wb.parse(column_t)
tidy(seen_pre.rules[["position", "pkts", "target", "in_interface", "comment", "spec"]])

# %% [markdown]
# 한 행씩 봅시다.
#
# 1. **`KUBE-SERVICES`**, kube-proxy의 서비스 규칙입니다(03). ClusterIP로 가는 패킷은 그 안에서 DNAT되고,
#    DNAT는 nat 테이블의 PREROUTING 순회를 끝냅니다. 그런 패킷은 2행과 3행에 닿지 않습니다.
# 2. **`AWS-CONNMARK-CHAIN-0`**, **`eni+`로 들어온** 패킷만 해당합니다. AWS VPC CNI는 파드 veth의 노드 쪽
#    끝을 모두 `eni…`로 이름 짓고, nat은 연결의 첫 패킷만 보므로, 이 행이 보는 것은 *파드가 시작하는 연결*
#    입니다. 이 덤프에서 그 체인은:

# %%
tidy(rs.rules.query("table == 'nat' and chain == 'AWS-CONNMARK-CHAIN-0'")[["position", "pkts", "spec"]])

# %% [markdown]
#    VPC 안(`192.168.0.0/16`)으로 가면 곧바로 돌아오고, 그 밖이면 **연결의** 마크에 비트 `0x80`을 켭니다
#    (`CONNMARK --set-xmark 0x80/0x80`). conntrack은 이 마크를 그 연결의 이후 모든 패킷에, 양방향으로
#    유지합니다.
# 3. **`CONNMARK restore mask 0x80`**(save 형식으로는 `--restore-mark --nfmask 0x80 --ctmask 0x80`),
#    어느 인터페이스에서 왔든 모든 연결의 첫 패킷에 대해, 연결 마크의 비트 `0x80`을 **패킷의** 마크로
#    복사합니다. PREROUTING 바로 뒤의 라우팅은 연결 마크가 아니라 패킷 마크를 읽을 수 있기 때문입니다
#    (`ip rule … fwmark`). 파드 연결의 이후 패킷에 대해서는 mangle 테이블의 *"AWS, primary ENI"* 규칙이
#    같은 복원을 합니다(mangle은 nat과 달리 모든 패킷을 봅니다).
#
# **왜 이렇게까지?** EKS에서 파드 주소는 노드의 *보조* 네트워크 인터페이스(ENI)에 속할 수 있고, CNI는
# 파드마다 정책 라우팅 규칙을 넣어 그 주소가 속한 ENI로 트래픽이 나가게 합니다. 그래야 그 ENI로 들어온
# VPC 밖 클라이언트에 대한 응답이 같은 길로 돌아갑니다. 하지만 파드가 스스로 밖으로 여는 연결은 노드의
# **기본** 주소로 출발지 NAT되므로(POSTROUTING의 `AWS-SNAT-CHAIN-0`, 연습 6.4) 기본 ENI로 나가야 합니다.
# 마크가 바로 그 표시입니다. CNI의 규칙 `fwmark 0x80/0x80 lookup main`이 파드별 규칙보다 앞에 있고,
# main 테이블은 기본 ENI로 보냅니다.
#
# ### 예측 6.a
# kube-ops-view 파드(`192.168.3.98`, `eni5d1d36193a1` 뒤)가 VPC 밖의 `8.8.8.8`로 연결을 엽니다. 트레이스를
# 실행하기 전에: 첫 패킷에 대해 `AWS-CONNMARK-CHAIN-0`의 몇 번 규칙이 결정할까요, **1**(RETURN)일까요
# **2**(마크 설정)일까요?

# %%
prediction = ...  # 1 또는 2

# %%
def connmark_rule(dst):
    """파드에서 ``dst``로 가는 트레이스와, 맞은 AWS-CONNMARK-CHAIN-0 규칙(None: 닿지 않음)."""
    t = wb.trace_packet(rs, wb.Packet("192.168.3.98", dst, "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1"),
                        node_ips=dump.node_ips)
    hit = [s.position for s in t.branches[0].steps
           if s.chain == "AWS-CONNMARK-CHAIN-0" and s.matched and s.position is not None]
    return t, (hit[0] if hit else None)

rows = []
for dst, what in [("8.8.8.8", "VPC 밖"), ("192.168.1.77", "VPC 안의 파드"),
                  ("10.100.0.10", "kube-dns의 ClusterIP")]:
    t, rule = connmark_rule(dst)
    rows.append({"목적지": f"{dst} ({what})", "AWS-CONNMARK-CHAIN-0 규칙": rule or "닿지 않음",
                 "연결에 0x80 마크": "예" if rule == 2 else "아니오",
                 "DNAT 목적지": ", ".join(d or "" for d in t.destinations)})
tidy(pd.DataFrame(rows))

# %%
check_prediction("6.a 8.8.8.8의 마크", prediction, outcome=connmark_rule("8.8.8.8")[1],
                 why="8.8.8.8은 192.168.0.0/16 밖이므로 1번 규칙(RETURN)은 맞지 않고 2번 규칙이 연결에 마크를 "
                     "합니다. 그 연결은 노드 주소로 SNAT되어 기본 ENI로 나갑니다. VPC 안의 파드는 1번에서 돌아오고, "
                     "ClusterIP는 KUBE-SERVICES에서 DNAT되어 여기까지 오지 않습니다.",
                 common={1: "1번 규칙은 VPC의 192.168.0.0/16 안으로 가는 목적지에만 돌아옵니다."})

# %% [markdown]
# ### 연습 6.6
# `column -t` 목록의 카운터는 각 행이 본 첫 패킷의 수입니다. **`KUBE-SERVICES`가 DNAT한**(그래서 마지막
# 행에 닿지 않은) 첫 패킷은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
pkts = seen_pre.rules.set_index("position")["pkts"]
check_answer("6.6 KUBE-SERVICES가 DNAT한 수", answer, expected=int(pkts[1] - pkts[3]),
             hint="KUBE-SERVICES가 DNAT하지 않은 첫 패킷은 모두 계속 가서 아무 매치도 없는 3행을 만납니다. "
                  "2행은 언제나 돌아옵니다.",
             common={int(pkts[1]): "그것은 KUBE-SERVICES에 들어간 첫 패킷 전부입니다. 그중 일부는 다시 나와 3행에서 "
                                   "세어졌습니다.",
                     int(pkts[1] - pkts[2] - pkts[3]): "2행은 패킷을 멈추지 않습니다. 체인이 돌아오거나, CONNMARK "
                                                       "타깃이 패킷을 3행으로 보내 줍니다."},
             explain="36909 − 26383 = 10526개의 첫 패킷이 서비스의 파드로 갔습니다.")

# %% [markdown]
# ## 4 · 결과(finding)
#
# 결과마다 근거(그것을 보여 주는 규칙이나 파일), 규칙의 소유자, 그리고 고치는 정확한 명령이 붙습니다.
# 아무것도 대신 실행하지 않습니다. 설명은 한국어, 명령과 근거 표는 원래 모습 그대로입니다.

# %%
findings = wb.check(dump)
findings

# %%
tidy(findings.frame)

# %% [markdown]
# 건강한 노드라면 결과가 거의 없거나 아예 없습니다. 다른 데이터셋은 건강하지 않습니다. `datasets` 폴더의
# 덤프를 한꺼번에 모두 검사해 봅니다(진행 막대와 함께).

# %%
from tqdm.auto import tqdm
rows = []
for manifest in tqdm(sorted(DATASETS.glob("**/MANIFEST.json")), desc="덤프 검사 중"):
    found = wb.check(wb.load_dump(manifest.parent))
    by_severity = found.frame["severity"].astype(str).value_counts().to_dict()
    rows.append({"dump": str(manifest.parent.relative_to(DATASETS)), "findings": len(found), **by_severity,
                 "titles": "; ".join(found.frame["title"].astype(str))})
sweep = pd.DataFrame(rows)
counts = [c for c in sweep.columns if c not in ("dump", "titles")]
sweep[counts] = sweep[counts].fillna(0).astype(int)
tidy(sweep[["dump", *counts, "titles"]])

# %% [markdown]
# ### 연습 6.3
# 심각도가 `error`인 결과가 **가장 많은** 덤프는? (`dump` 열에 적힌 폴더 이름으로)

# %%
answer = ...  # 예: "eks-node"

# %%
check_answer("6.3 error가 가장 많은 덤프", answer, expected=sweep.sort_values("error", ascending=False, kind="stable").iloc[0]["dump"],
             hint="sweep 표를 error 열로 정렬해 보세요.")

# %% [markdown]
# ## 5 · 탐색하고 공유하기
#
# 테이블, 체인, 규칙을 둘러보고 걸러 봅니다.

# %%
from workbook.view.widgets import DumpExplorer
DumpExplorer(dump)

# %% [markdown]
# 또는 직접 고른 패킷을 추적해 봅니다.

# %%
from workbook.view.widgets import TracerForm
TracerForm(dump, src="192.168.3.98", dst="10.100.0.10", proto="udp", dport=53)

# %% [markdown]
# 위의 모든 것을 담은 HTML 보고서 한 파일입니다. 티켓에 첨부하기 좋습니다.

# %%
from pathlib import Path

from workbook.view.report import write_report
report = write_report(dump, Path("eks-node-report.html"))
print("저장함:", Path(report).resolve(), f"({Path(report).stat().st_size // 1024} KiB)")

# %% [markdown]
# ### 연습 6.4
# 탐색기에서 nat 테이블의 `AWS-SNAT-CHAIN-0`(VPC 밖으로 나가는 트래픽에 대한 AWS VPC CNI의 출발지 NAT)을
# 열어 보세요. 규칙은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
snat = rs.chains.query("table == 'nat' and chain == 'AWS-SNAT-CHAIN-0'")
check_answer("6.4 AWS-SNAT-CHAIN-0", answer, expected=int(snat["rules"].iloc[0]) if len(snat) else None,
             hint="탐색기에서 nat 테이블과 그 체인을 고르거나, rs.chains를 보세요.",
             common={1: "SNAT 규칙 앞에 VPC CIDR에 대한 RETURN이 있습니다. 둘 다 세세요."})

# %% [markdown]
# ## 6 · 내 노드에서 수집하기
#
# `workbook.collect`는 같은 명령을 SSH(paramiko)로 여러분의 노드에서 실행하고, 호스트마다 폴더 하나씩 같은
# 형식으로 씁니다. 노드에서 바꾸는 것은 없습니다. 읽기만 합니다(`iptables-save -c`, 두 백엔드, `lsmod`,
# `ip -o addr`, …).
#
# 아래 셀은 **기본으로 꺼져 있습니다**. 쓰려면 `COLLECT = True`로 바꾸고 호스트를 채우세요. 수집에는 보통
# root나 `--sudo`로 쓸 수 있는 SSH 접근이 필요합니다.

# %%
from pathlib import Path

COLLECT = False                      # 수집하려면 True로
HOSTS = ["root@192.0.2.10"]          # 노드의 [user@]host[:port]; 여러 개면 동시에 수집합니다
KEY = Path.home() / ".ssh" / "id_ed25519"

if COLLECT:
    from workbook.collect import collect_ssh
    results = collect_ssh(HOSTS, "my-node-dumps", identity=KEY)   # 호스트 키는 ~/.ssh/known_hosts와 대조합니다
    for r in results:
        print(r)
    dump = results[0].load() if results[0].ok else dump   # 그다음 위의 셀들을 다시 실행하세요
else:
    print("수집이 꺼져 있습니다(COLLECT = False). 셸에서 같은 일을 하려면:")
    print(f"  nfwb collect --ssh {HOSTS[0]} --identity {KEY} -o my-node-dumps")

# %% [markdown]
# ### 연습 6.5
# `iptables/iptables-save.txt`를 만든 정확한 명령을 보려면 nfwb 덤프의 어느 파일을 열어야 할까요?

# %%
answer = ...  # 파일 이름

# %%
check_answer("6.5 어느 파일", answer, expected="MANIFEST.json",
             hint="모든 파일을 명령, 시각, 종료 코드와 함께 나열하는 파일입니다.")

# %% [markdown]
# 다음: [07 · 실제 커널 실습](07-live-kernel-lab.ipynb).
