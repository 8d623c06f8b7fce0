# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · 여기서 시작하세요
#
# 이 워크북은 쿠버네티스 노드에서 리눅스 **netfilter**와 **iptables**가 패킷을 어떻게 옮기는지
# 보여 주고, 장애가 났을 때 실제 노드에서 뽑아 온 규칙을 하나씩 뜯어보는 법을 연습합니다.
#
# 이야기와 명령 출력은 CloudNet@팀의 AEWS 스터디 2기를 위해 쓰인 블로그 글
# *[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )*에서 가져왔습니다.
# 글쓴이는 "운영환경의 경험을 기반으로 풀어보는 시간"이라며 netfilter 훅에서 시작해
# kube-proxy의 서비스 규칙을 거쳐 실제 운영 장애 두 건까지 걸어갑니다. 이 노트북들은 그 글의
# 명령 출력(EKS 워커 노드와 온프레미스 클러스터에서 뜬 것)을 인용하고 나올 때마다 출처를 밝힙니다.
# 설명과 연습 문제는 우리가 새로 썼습니다. (원문은 velog.io/@gyomang의 서비스 그림도 빌려 썼지만,
# 여기서는 그림을 직접 그립니다.)
#
# `datasets/`의 노드 덤프는 그 실제 출력을 바탕으로 만들었습니다. 무엇을 글에서 그대로 옮겼고
# 무엇을 재구성했는지는 `datasets/README.md`에 파일별로 적혀 있습니다.
#
# > 원문의 첫인사: "정말 쉽게 풀어서 이야기 드려도 여러번 읽어보셔야 자기것이 됩니다."
# > 이 노트북도 같은 마음입니다. 직접 실행하고, 답을 적고, 틀려 보세요.

# %% [markdown]
# ## 용어집
#
# 이 에디션은 우리말 용어를 쓰되, 명령어·체인 이름·출력은 영어 그대로 둡니다(`iptables -t nat -S`를
# 번역할 수는 없으니까요). 처음 나오는 용어는 아래 표에서 찾아보세요.
#
# | 우리말 | English | 한 줄 설명 |
# |---|---|---|
# | 훅 | hook | 커널이 패킷을 검사하는 다섯 지점(PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING). 원문은 "후크"라고 부르며 "후크 선장 아시죠?"라고 묻습니다 |
# | 테이블 | table | 목적별로 묶은 규칙 모음: raw, mangle, nat, filter, security. 원문: "테이블은 = 어떤 결정을 하느냐 ?" |
# | 체인 | chain | 테이블 안의 규칙 목록. 기본 체인은 훅에 걸려 있고, 사용자 체인은 점프(`-j`)로만 들어갑니다. 원문: "체인은 = hook 안에서 또 언제 트리거 되고 어떠한 위치에서 적용되는지" |
# | 규칙 | rule | 매치(조건)와 타깃(할 일) 한 줄: `-A CHAIN … -j TARGET` |
# | 점프 / 타깃 | jump / target | `-j`로 다른 체인이나 동작(ACCEPT, DROP, DNAT…)을 고르는 것 |
# | 정책 | policy | 기본 체인 끝까지 아무 규칙도 결정하지 않았을 때의 판정(`-P`) |
# | DNAT | destination NAT | 목적지 주소(와 포트)를 바꾸는 것. 서비스 IP → 파드 IP. 원문: "DNAT(목적지 변경)" |
# | SNAT / MASQUERADE | source NAT | 출발지 주소를 바꾸는 것. MASQUERADE는 나가는 인터페이스의 주소를 씁니다 |
# | 연결 추적 | conntrack (connection tracking) | 커널이 연결마다 기억하는 상태(NEW, ESTABLISHED…). nat 테이블은 연결의 첫 패킷만 봅니다 |
# | 엔드포인트 | endpoint | 서비스 뒤에서 실제로 응답하는 파드 주소:포트. kube-proxy의 `KUBE-SEP-…` 체인 하나가 엔드포인트 하나 |
# | 서비스 | Service | 쿠버네티스의 고정 가상 IP(ClusterIP)와 그 뒤의 엔드포인트 묶음 |
# | 덤프 | dump | 노드에서 모아 온 명령 출력 폴더(`iptables-save`, `lsmod` …) |
# | 결과 | finding | `nfwb check`/`wb.check`가 덤프에서 찾아낸 문제 하나: 근거와 고치는 명령이 붙습니다 |

# %% [markdown]
# ## 지도
#
# | 노트북 | 답하는 질문 |
# |---|---|
# | [01 · netfilter 훅](01-netfilter-hooks.ipynb) | iptables 규칙은 커널 어디에서, 어떤 순서로 실행될까? |
# | [02 · 테이블과 체인](02-tables-and-chains.ipynb) | `iptables -S` 출력은 어떻게 읽나? 정책, 체인, 점프란? |
# | [03 · 서비스 DNAT 경로](03-service-dnat-path.ipynb) | ClusterIP로 간 패킷은 어떻게 파드에 닿을까? (`KUBE-SERVICES → KUBE-SVC → KUBE-SEP`) |
# | [04 · 중복된 CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb) | 쿠버네티스 1.23 → 1.24 업그레이드 즈음 hostPort(인그레스) 트래픽은 왜 끊겼을까? |
# | [05 · Istio와 빠진 모듈](05-istio-iptables-modules.ipynb) | `unable to initialize table 'nat'`은 무슨 뜻이고 어떻게 고치나? |
# | [06 · 노드 덤프 포렌식](06-forensics-of-a-node-dump.ipynb) | 노드에서 모은 명령 출력 폴더가 있다. 무엇이 잘못됐나? |
# | [07 · 실제 커널 실습](07-live-kernel-lab.ipynb) | 실제 커널도 시뮬레이터와 같은 답을 낼까? |
#
# 처음에는 순서대로 보고, 나중에는 관심 있는 장애로 바로 가세요.

# %% [markdown]
# ## 이 노트북 사용법
#
# * 셀을 위에서 아래로 실행하세요(**Shift + Enter**). 셀 하나는 한 가지 일만 합니다.
# * **먼저 예측하고, 그다음 실행하기.** 패킷을 추적하기 전에 *예측* 셀이 무엇을 기대하는지 묻습니다.
#   `prediction = ...`에 적고, 트레이스를 실행한 뒤, 둘을 비교하는 셀을 실행하세요. 나중에 이유를 설명할
#   수 있는 틀린 짐작이, 해 보지도 않은 맞는 짐작보다 더 많이 가르쳐 줍니다.
# * 절마다 끝에 **연습 문제**가 있습니다. `answer = ...` 셀의 `...`를 답으로 바꾸고 실행하세요.
# * 그 아래 **자가 점검** 셀이 답을 데이터와 비교합니다. 절대 오류로 멈추지 않습니다. 아직 답이 없으면
#   힌트를 주고, 흔히 하는 오답에는 왜 틀렸는지 한마디 하고, 세 번 틀리면 정답을 보여 줍니다. 읽을 수
#   없는 답(숫자를 묻는데 낱말을 적은 경우)은 설명만 하고 시도 횟수에 넣지 **않습니다**.
# * 답은 말하듯이 적으면 됩니다. `True`/`False`, `"참"`/`"거짓"`, `"예"`/`"아니오"`, `"yes"`/`"no"`;
#   `0.5`, `"50%"`, `"1/2"`; 리스트는 `["PREROUTING", "INPUT"]`이나 `"PREROUTING → INPUT"`.
#   대소문자는 상관없습니다.
# * **직접 망가뜨려 보기** 셀은 노드 규칙이나 모듈의 사본을 바꿉니다(여러분 기계는 절대 건드리지
#   않습니다). 결과(finding)와 트레이스가 어떻게 바뀌는지 지켜보세요.
# * 오래 걸리는 셀은 진행 막대를 보여 줍니다.
# * 아래 준비 셀의 `wb.set_language("ko")` 덕분에 결과(finding), 위젯, 자가 점검이 한국어로 말합니다.
#   명령어와 JSON은 언제나 영어 그대로입니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 환경 점검
#
# 노트북에는 표를 위한 pandas, 그림을 위한 graphviz(파이썬 패키지 *와* `dot` 프로그램),
# 대화형 탐색기를 위한 ipywidgets가 필요합니다.

# %%
import platform, shutil
import graphviz, ipywidgets, pandas as pd

pd.DataFrame({
    "구성 요소": ["Python", "workbook", "pandas", "graphviz (Python)", "dot (graphviz 프로그램)", "ipywidgets"],
    "버전": [platform.python_version(), wb.__version__, pd.__version__, graphviz.__version__,
             ".".join(map(str, graphviz.version())) if shutil.which("dot") else "없음: graphviz를 설치하세요",
             ipywidgets.__version__],
})

# %% [markdown]
# 아래 그림에 화살표로 이어진 상자 세 개가 보이면 graphviz가 동작하는 것입니다. 네트워크에서 들어와
# 노드 자신의 프로세스로 가는 패킷의 길이고, 한글 글꼴이 있다면 한글 라벨도 제대로 보입니다.

# %%
g = graphviz.Digraph(graph_attr={"rankdir": "LR"},
                     node_attr={"shape": "box", "style": "rounded", "fontname": "Noto Sans CJK KR"},
                     edge_attr={"fontname": "Noto Sans CJK KR"})
g.edge("네트워크 카드", "PREROUTING")
g.edge("PREROUTING", "INPUT", label="라우팅: 이 노드로")
g.edge("INPUT", "로컬 프로세스")
g

# %% [markdown]
# 아래에 드롭다운이 보이면 위젯도 동작합니다. 하고 싶은 일을 고르면 알맞은 노트북을 알려 줍니다.

# %%
import ipywidgets as widgets

GOALS = {
    "패킷이 커널을 지나는 길 배우기": "01-netfilter-hooks.ipynb",
    "iptables -S / iptables-save 출력 읽기": "02-tables-and-chains.ipynb",
    "서비스가 파드에 닿는 원리 이해하기": "03-service-dnat-path.ipynb",
    "중복된 CNI-HOSTPORT-DNAT 규칙 고치기": "04-dockershim-duplicate-hostport.ipynb",
    "Istio의 unable to initialize table 'nat' 고치기": "05-istio-iptables-modules.ipynb",
    "노드에서 모은 덤프 뜯어보기": "06-forensics-of-a-node-dump.ipynb",
    "시뮬레이터와 실제 커널 비교하기": "07-live-kernel-lab.ipynb",
}
goal = widgets.Dropdown(options=list(GOALS), description="하고 싶은 일", layout={"width": "520px"},
                        style={"description_width": "initial"})
where = widgets.HTML()
def show_goal(change=None):
    where.value = f"<a href='{GOALS[goal.value]}' target='_blank'><code>{GOALS[goal.value]}</code></a>을(를) 여세요"
goal.observe(show_goal, names="value"); show_goal()
widgets.VBox([goal, where])

# %% [markdown]
# ### 연습 0.0
# 드롭다운을 써 보세요. Istio의 `unable to initialize table 'nat'`을 설명하는 노트북은 몇 번일까요?
# 번호로 답하세요.

# %%
answer = ...  # 숫자

# %%
check_answer("0.0 Istio는 어디에", answer,
             expected=int(next(nb for g, nb in GOALS.items() if "Istio" in g)[:2]),
             hint="Istio가 들어간 항목을 고르고, 보여 주는 파일 이름의 앞 두 자리를 읽으세요.",
             common={4: "04는 원문의 다른 장애, 중복된 hostPort 규칙입니다.",
                     1: "01은 훅을 설명합니다. Istio 오류는 빠진 커널 모듈 이야기입니다."})

# %% [markdown]
# ## 첫 번째 규칙셋
#
# 원문 글쓴이는 EKS 워커 노드에서 `iptables -t nat -S`를 실행하고 "그중에 제일 위에 4개만 보죠"라며
# 처음 네 줄만 남겼습니다. nat 테이블 기본 체인들의 **정책**(`-P`)입니다(원문 인용):

# %%
nat_s = r"""
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
"""

nat = wb.parse(nat_s)
nat

# %% [markdown]
# `wb.parse`는 형식을 스스로 알아보고 `Ruleset`을 돌려줍니다. 규칙셋은 언제든 pandas 표로 볼 수
# 있습니다. 여기서는 체인 하나가 한 행입니다.

# %%
tidy(nat.chains)

# %% [markdown]
# ### 연습 0.1
# 이 네 줄에 따르면 nat 테이블의 **기본(built-in)** 체인은 몇 개일까요? 원문의 주석도 힌트입니다:
# "5개의 후크중에 4개".

# %%
answer = ...  # 숫자

# %%
check_answer("0.1 nat 기본 체인 수", answer,
             expected=int(nat.chains.query("table == 'nat'")["builtin"].sum()),
             hint="-P 한 줄이 기본 체인 하나의 정책을 정합니다.",
             common={5: "훅은 다섯이지만 nat에는 FORWARD 체인이 없습니다. -P 줄을 세어 보세요."},
             explain="PREROUTING, INPUT, OUTPUT, POSTROUTING: nat은 다섯 훅 중 네 곳에서 일합니다.")

# %% [markdown]
# 다음: [01 · netfilter 훅](01-netfilter-hooks.ipynb).
