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
# 준비: workbook 라이브러리, pandas, 자가 점검, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.exercises import check_answer
from workbook.lesson import setup

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
pd.DataFrame(dump.manifest["files"])[["path", "command", "exit_code", "size"]] if dump.manifest else None

# %% [markdown]
# ### 연습 6.1
# `dump.node_ips`는 `ip -o addr`에서 읽은, 이 노드가 가진 주소 목록입니다. 몇 개일까요(루프백과 IPv6
# 포함)? `dump.node_ips`를 찍어 보세요.

# %%
answer = ...  # 숫자

# %%
check_answer("6.1 노드 주소 수", answer, expected=len(dump.node_ips),
             hint="len(dump.node_ips)")

# %% [markdown]
# ## 2 · 표로 보는 규칙
#
# 주 IPv4 규칙셋, 그 체인들, 그리고 규칙마다 어느 구성 요소의 것인지(owner):

# %%
rs = dump.ruleset
rs

# %%
rules = rs.rules
rules.groupby(["table", "owner"], dropna=False).size().rename("rules").reset_index()

# %% [markdown]
# ### 연습 6.2
# 이 노드에서 규칙이 **가장 많은** 체인은? (테이블은 상관없습니다.)

# %%
answer = ...  # 체인 이름

# %%
biggest = rs.chains.sort_values("rules", ascending=False).iloc[0]
check_answer("6.2 가장 큰 체인", answer, expected=biggest["chain"],
             hint="rs.chains를 rules 열로 정렬해 보세요.")

# %% [markdown]
# ### 이 노드의 훅
#
# 이 노드의 테이블에서 그린, 어느 체인이 어느 훅에 걸려 있는지입니다.

# %%
wb.draw_hooks(rs)

# %% [markdown]
# ## 3 · 결과(finding)
#
# 결과마다 근거(그것을 보여 주는 규칙이나 파일), 규칙의 소유자, 그리고 고치는 정확한 명령이 붙습니다.
# 아무것도 대신 실행하지 않습니다. 설명은 한국어, 명령과 근거 표는 원래 모습 그대로입니다.

# %%
findings = wb.check(dump)
findings

# %%
findings.frame

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
sweep[["dump", *counts, "titles"]]

# %% [markdown]
# ### 연습 6.3
# 결과가 **가장 많은** 덤프는? (`dump` 열에 적힌 폴더 이름으로)

# %%
answer = ...  # 예: "eks-node"

# %%
check_answer("6.3 결과가 가장 많은 덤프", answer, expected=sweep.sort_values("findings", ascending=False).iloc[0]["dump"],
             hint="sweep 표를 findings로 정렬해 보세요.")

# %% [markdown]
# ## 4 · 탐색하고 공유하기
#
# 테이블, 체인, 규칙을 둘러보고 걸러 봅니다.

# %%
from workbook.widgets import DumpExplorer
DumpExplorer(dump)

# %% [markdown]
# 또는 직접 고른 패킷을 추적해 봅니다.

# %%
from workbook.widgets import TracerForm
TracerForm(dump, src="192.168.3.98", dst="10.100.0.10", proto="udp", dport=53)

# %% [markdown]
# 위의 모든 것을 담은 HTML 보고서 한 파일입니다. 티켓에 첨부하기 좋습니다.

# %%
from pathlib import Path

from workbook.report import write_report
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
             hint="탐색기에서 nat 테이블과 그 체인을 고르거나, rs.chains를 보세요.")

# %% [markdown]
# ## 5 · 내 노드에서 수집하기
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
