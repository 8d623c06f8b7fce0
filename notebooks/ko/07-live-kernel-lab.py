# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · 실제 커널 실습: 같은 패킷, 진짜 커널
#
# 이 노트북들의 트레이서는 **시뮬레이터**입니다. 규칙을 읽고 추론할 뿐입니다. 과연 맞을까요? 여기서는
# 노드의 규칙을 진짜 `iptables-restore`로 일회용 **네트워크 네임스페이스**에 올리고, 같은 패킷을 진짜
# 커널에 흘려보낸 뒤, 커널 자신의 트레이스가 어느 규칙을 지났는지 말하게 합니다. 그리고 두 트레이스를
# 나란히 놓습니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ### 이 기계에서 실습을 돌릴 수 있을까
#
# 실습에는 **리눅스의 root 권한**, **네트워크 네임스페이스**, 그리고 몇 가지 도구(`ip`, `nft`,
# `iptables-nft`, `xtables-monitor`, `conntrack`)가 필요합니다. 무엇 하나라도 없으면(Binder에서는 root가
# 아니고, 컨테이너는 네임스페이스를 막을 수 있습니다) 이 노트북은 리눅스 기계에서 같은 규칙, 같은 패킷으로
# 만든 **녹화된 실행**(`recorded/lab-kube-dns.json`)을 대신 보여 주고, 그 이유를 한 줄로 말합니다. 어느
# 쪽이든 아래 셀은 실패하지 않습니다.

# %%
from workbook.lessons.lab_runs import kernel_runs, live_lab_unavailable

print(live_lab_unavailable() or "이 기계에서는 실제 커널 실습을 돌릴 수 있습니다")

# %% [markdown]
# ## 1 · 규칙과 패킷
#
# 03의 DNS 질의입니다. kube-ops-view 파드(`192.168.3.98`, `eni5d1d36193a1` 뒤)가 `10.100.0.10:53`의
# kube-dns에 묻습니다.

# %%
dump = wb.load_dump(DATASETS / "eks-node")
rs = dump.ruleset
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
print(rs.summary())

# %% [markdown]
# ### 예측 7.a
# 시뮬레이터를 실행하기 전에: 새 질의 중 `192.168.1.77:53`으로 보내는 몫은 얼마라고 할까요?

# %%
prediction = ...  # 0과 1 사이의 수, 또는 백분율

# %% [markdown]
# 시뮬레이터의 답:

# %%
sim = wb.trace_packet(rs, query, node_ips=dump.node_ips)
sim

# %%
check_prediction("7.a 시뮬레이터의 몫", prediction, outcome=sim.destinations.get("192.168.1.77:53", 0.0),
                 why="kube-dns 엔드포인트가 둘이니 첫 KUBE-SEP 점프의 확률은 0.5입니다(03).",
                 common={1: "시뮬레이터는 한 길을 고르지 않습니다. 모든 길을 확률과 함께 적습니다."})

# %% [markdown]
# ### 연습 7.1
# 시뮬레이터는 이 질의가 몇 가지 길(갈래)로 갈 수 있다고 할까요?

# %%
answer = ...  # 숫자

# %%
check_answer("7.1 시뮬레이터의 갈래 수", answer, expected=len(sim.branches),
             hint="kube-dns 파드 하나에 갈래 하나입니다.",
             common={1: "시뮬레이터는 가능한 길을 모두 간직합니다. 하나를 고르는 것은 커널입니다."})

# %% [markdown]
# ## 2 · 커널의 답
#
# 실행할 때마다 질의를 새 출발지 포트에서 보내므로 매번 새 연결이고, 커널은 난수를 다시 뽑습니다.
# 여덟 번 실행합니다(한 번에 1초도 안 걸립니다).
#
# ### 예측 7.b
# 커널을 실행하기 전에: 여덟 번의 실행 **모두**가 시뮬레이터가 적은 두 엔드포인트 중 하나로 질의를
# DNAT할까요? 참 또는 거짓으로 답하세요.

# %%
prediction = ...  # 참 또는 거짓

# %%
lab = kernel_runs(rs, query, dump.node_ips, count=8)
runs = lab.runs
lab

# %%
check_prediction("7.b 모든 실행이 적힌 엔드포인트로", prediction,
                 outcome=all(r.branches[0].dnat in sim.destinations for r in runs),
                 why="커널은 무작위로 뽑지만 있는 규칙들 사이에서만 뽑습니다. 실행마다 192.168.1.77:53이나 "
                     "192.168.2.64:53에, 자기 나름의 순서로 닿습니다.",
                 common={False: "무작위라고 아무렇게나는 아닙니다. statistic 매치는 두 KUBE-SEP 점프 중에서만 "
                                "고릅니다."})

# %% [markdown]
# 첫 실행을 한 단계씩:

# %%
kernel = runs[0]
kernel

# %% [markdown]
# 첫 실행을 그림으로 봅니다. 커널은 두 길 중 정확히 하나만 갔습니다.

# %%
wb.draw_trace(kernel, rs)

# %% [markdown]
# ### 연습 7.2
# 커널 트레이스 **하나**에는 갈래가 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("7.2 커널의 갈래 수", answer, expected=len(kernel.branches),
             hint="진짜 패킷은 두 길을 동시에 갈 수 없습니다.",
             common={2: "둘은 시뮬레이터의 수입니다. 진짜 패킷 하나는 한 길로 갑니다."},
             explain="커널은 난수를 한 번 뽑았습니다. 시뮬레이터는 가능한 미래를 모두 적고, 커널은 그중 하나를 삽니다.")

# %% [markdown]
# ## 3 · 나란히 놓기
#
# 두 트레이스가 같은 규칙을 같은 순서로 지나고 같은 주소로 DNAT하면 "일치"한다고 봅니다. 표기 차이가
# 하나 있습니다. 패킷이 사용자 체인 끝에서 떨어지면 시뮬레이터는 규칙 번호 없는 `RETURN` 단계를 쓰고,
# 커널 트레이스는 아무 말도 하지 않습니다. 그것을 빼고 비교합니다. `Branch.matched_path()`가 갈래의
# 규칙을 그렇게 돌려주고, `workbook.lab.kernel_agrees`가 커널 트레이스를 시뮬레이터의 갈래들과 비교합니다.

# %%
from workbook.lab import kernel_agrees

rows = []
for i, run in enumerate(runs):
    same = [j for j, b in enumerate(sim.branches) if b.matched_path() == run.branches[0].matched_path()]
    rows.append({"실행": i, "커널의 DNAT": run.branches[0].dnat,
                 "같은 길의 시뮬레이터 갈래": same[0] if same else "없음",
                 "그 갈래의 확률": f"{sim.branches[same[0]].probability:.0%}" if same else "",
                 "일치": kernel_agrees(run, sim)[0]})
side = pd.DataFrame(rows)
side

# %% [markdown]
# 첫 실행을 규칙 하나하나, 시뮬레이터의 같은 갈래 옆에 놓고 봅니다.

# %%
first_match = side.iloc[0]["같은 길의 시뮬레이터 갈래"]
k_path = kernel.branches[0].matched_path()
s_path = sim.branches[first_match if first_match != "없음" else 0].matched_path()
width = max(len(k_path), len(s_path))


def as_lines(path):
    lines = [f"{t} {c} #{n}: {a}" if n is not None else f"{t} {c}: {a}" for t, c, n, a in path]
    return lines + [""] * (width - len(lines))


pd.DataFrame({"커널": as_lines(k_path), "시뮬레이터": as_lines(s_path)})

# %% [markdown]
# ### 연습 7.3
# 여덟 번 중 커널이 질의를 `192.168.1.77:53`으로 보낸 것은 몇 번일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("7.3 192.168.1.77로 간 횟수", answer, expected=int((side["커널의 DNAT"] == "192.168.1.77:53").sum()),
             hint="나란히 놓은 표의 행을 세어 보세요.",
             common={4: "4는 평균으로 기대하는 값입니다. 이번 실행이 실제로 한 것을 세어 보세요."},
             explain="실행마다 확률이 0.5이니 0에서 8까지 무엇이든 나올 수 있고, 4 근처가 가장 흔합니다.")

# %% [markdown]
# ### 연습 7.4
# 참일까요, 거짓일까요? 커널의 모든 실행이 시뮬레이터 갈래 중 하나를 정확히 따라갔다.

# %%
answer = ...  # 참 또는 거짓

# %%
check_answer("7.4 일치하나", answer, expected=bool(side["일치"].all()),
             hint="나란히 놓은 표의 '일치' 열을 보세요.",
             common={False: "실행마다 다른 길로 갔지만, 각각은 시뮬레이터의 *어떤* 갈래와 맞았습니다."})

# %% [markdown]
# ### 실습은 이렇게 돌아갑니다
#
# 1. 일회용 네임스페이스를 몇 개 만듭니다. 입력 인터페이스마다 *클라이언트* 하나(여기서는 파드의
#    `eni…` 인터페이스와 같은 이름), 덤프의 규칙과 주소를 가진 *노드*, 그리고 DNAT된 패킷이 갈 곳이
#    있도록 모든 주소에 대답하는 *싱크*입니다.
# 2. `iptables-restore`로 규칙을 올리고, 시험 패킷에만 맞는 `-j TRACE` 규칙 하나를 raw 테이블에 넣습니다.
# 3. 클라이언트에서 패킷을 보내고 `xtables-monitor --trace`로 커널의 트레이스 이벤트를 읽습니다. 패킷이
#    지난 규칙마다 한 줄씩, 판정과 함께 나옵니다.
# 4. 네임스페이스를 모두 지웁니다. 호스트에는 손대지 않습니다.
#
# 셸에서는(root만):
# `nfwb lab trace datasets/eks-node --src 192.168.3.98 --dst 10.100.0.10 --proto udp --dport 53 --in-iface eni5d1d36193a1 --node-ip 192.168.3.215`.
# 위의 녹화는 `notebooks/record_lab_run.py`로 만들었습니다.
#
# 워크북은 여기까지입니다. 처음으로: [00 · 여기서 시작하세요](00-start-here.ipynb).
