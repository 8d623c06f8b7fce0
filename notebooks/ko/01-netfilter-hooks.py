# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · netfilter의 다섯 훅
#
# 리눅스 노드로 들어오거나, 나가거나, 노드를 가로지르는 IPv4 패킷은 커널 안의 검문소를 최대 다섯
# 군데 지납니다. 이것이 netfilter **훅**(hook)입니다. iptables 규칙은 혼자 돌지 않습니다. 어떤 테이블이
# 이 훅들 중 몇 곳에 자신을 등록해 두었기 때문에 실행됩니다.
#
# 원문은 이렇게 시작합니다: "netfilter hook ( 후크 선장 아시죠? ) 입니다." 그리고 "iptables는 방화벽
# 소프트웨어고 5개의 후크를 가지고 있습니다." 정확히 말하면 훅은 커널(netfilter)의 것이고, iptables는
# 그 훅에 규칙을 거는 도구입니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 1 · 검문소 다섯 곳
#
# 원문은 "단어 그대로 이해 해보죠 어렵지 않습니다"라며 각 훅을 한 줄로 풀었습니다. 여기서는 커널이
# 언제 부르는지를 기준으로 다시 정리합니다.
#
# | 훅 | 커널이 부르는 때 | 원문의 한 줄 |
# |---|---|---|
# | **PREROUTING** | 패킷이 인터페이스에 막 도착했고, 라우팅 결정 *전* | "라우팅 전에 트리거" |
# | **INPUT** | 라우팅 결과 이 노드가 목적지이고, 곧 로컬 소켓에 닿을 때 | "노드로 들어오는 트래픽에 대한 트리거" |
# | **FORWARD** | 라우팅 결과 다른 호스트(쿠버네티스 노드에서는 흔히 파드)로 갈 때 | "다른 노드로 넘어가는 트래픽에 대한 트리거" |
# | **OUTPUT** | 이 노드의 프로세스가 패킷을 만들었을 때 | "노드에서 나가는 트래픽에 대한 트리거" |
# | **POSTROUTING** | 라우팅 *뒤*, 패킷이 인터페이스로 나가기 직전 | "라우팅 하고 트리거" |
#
# PREROUTING은 라우팅보다 먼저 돌기 때문에 여기서 목적지를 바꾸면(DNAT) 패킷이 가는 곳 자체가
# 바뀝니다. POSTROUTING은 맨 마지막에 돌기 때문에 출발지를 바꾸는 일(SNAT, MASQUERADE)이 여기서
# 일어납니다.

# %% [markdown]
# 원문은 훅을 이렇게 그립니다(원문 인용). `[*]`는 라우팅 결정입니다. `ingress`와 `egress` 상자는
# nftables만 쓸 수 있는 네트워크 장치의 훅이고, iptables는 그 사이의 다섯 상자에서 일합니다.
#
# ```
#              +================+      +=====================+
#              | hostNetwork IP |      | hostNetwork process |
#              +================+      +=====================+
#                          ^                |
#   -  -  -  -  -  -  -  - | -  -  -  -  - [*] -  -  -  -  -  -  -  -  -
#                          |                v
#                      +-------+        +--------+
#                      | input |        | output |
#                      +-------+        +--------+
#                          ^                |
#       +------------+     |   +---------+  v      +-------------+
#       | prerouting |-[*]-+-->| forward |--+-[*]->| postrouting |
#       +------------+         +---------+         +-------------+
#             ^                                           |
#  -  -  -  - | -  -  -  -  -  -  -  -  -  -  -  -  -  -  |  -  -  -  -
#             |                                           v
#        +---------+                                  +--------+
#    --->| ingress |                                  | egress |--->
#        +---------+                                  +--------+
# ```

# %% [markdown]
# workbook도 같은 그림을 그리되, 훅마다 걸린 테이블을 함께 보여 줍니다.

# %%
wb.draw_hooks()

# %% [markdown]
# 같은 사실을 라이브러리는 `workbook.netfilter`에 담고 있습니다. 커널 이름은 원문이 나열한 것입니다
# (`NF_IP_…`; 요즘 커널은 그림에서처럼 `NF_INET_…`이라고 부릅니다). 테이블은 각 훅에 등록된 것을
# 패킷이 만나는 순서대로 적었습니다.

# %%
import pandas as pd
from workbook import netfilter

KERNEL_NAME = {"PREROUTING": "NF_IP_PRE_ROUTING", "INPUT": "NF_IP_LOCAL_IN", "FORWARD": "NF_IP_FORWARD",
               "OUTPUT": "NF_IP_LOCAL_OUT", "POSTROUTING": "NF_IP_POST_ROUTING"}
pd.DataFrame([{"훅": h, "커널 이름": KERNEL_NAME[h], "테이블(순서대로)": " → ".join(netfilter.tables_at(h))}
              for h in netfilter.HOOKS])

# %% [markdown]
# ### 연습 1.1
# 네트워크에서 온 패킷이 이 노드에서 도는 프로세스(예: 10250 포트의 kubelet)로 갑니다. 어떤 훅을
# **순서대로** 지날까요? 훅 이름의 리스트로 답하세요.

# %%
answer = ...  # 예: ["HOOK1", "HOOK2"]

# %%
check_answer("1.1 로컬 전달", answer,
             expected=netfilter.packet_path(from_node=False, local=True), ordered=True,
             hint="그림에서 네트워크 카드부터 로컬 프로세스까지 따라가 보세요.",
             common={("INPUT",): "INPUT이 처음이 아닙니다. 네트워크에서 온 패킷은 모두 라우팅 전에 PREROUTING을 지납니다.",
                     ("PREROUTING", "FORWARD", "INPUT"): "FORWARD는 노드를 *거쳐* 가는 패킷의 것이지, 노드로 오는 패킷의 것이 아닙니다.",
                     ("INPUT", "PREROUTING"): "훅은 맞지만 PREROUTING이 먼저입니다. 라우팅 전에 돕니다."})

# %% [markdown]
# ## 2 · 한 훅 위의 테이블들, 우선순위 순서
#
# 원문은 테이블을 "어떤 결정을 하느냐"로 설명합니다("NAT? NAT 패킷의 src,dst address의 수정/방법
# 여부를 결정", "Filter? 필터링. 패킷의 전송 여부를 결정"). 다섯 테이블을 모두 적으면:
#
# * **raw**: 연결 추적보다 먼저 돌며, 어떤 트래픽을 연결 추적에서 빼는 데 씁니다.
# * **mangle**: 패킷 마크와 헤더 필드를 바꿉니다.
# * **nat**: 주소를 바꿉니다(DNAT, SNAT, MASQUERADE, REDIRECT). 연결의 첫 패킷만 봅니다.
# * **filter**: 패킷을 통과시킬지 정합니다(ACCEPT, DROP, REJECT).
# * **security**: SELinux 라벨.
#
# 한 훅에 여러 테이블이 걸릴 수 있습니다. 커널은 **우선순위** 숫자로 줄을 세우고, 작은 숫자가 먼저
# 돕니다(raw −300, mangle −150, 목적지용 nat −100, filter 0, security 50, 출발지용 nat 100).

# %% [markdown]
# 훅별 테이블과 우선순위입니다(빈칸은 그 테이블이 그 훅에 없다는 뜻).

# %%
prio = pd.DataFrame([{"hook": h, "table": t.table, "priority": t.priority}
                     for h, entries in netfilter.TABLES_AT_HOOK.items() for t in entries])
tidy(prio.pivot(index="hook", columns="table", values="priority").reindex(
    index=list(netfilter.HOOKS), columns=["raw", "mangle", "nat", "filter", "security"]))

# %% [markdown]
# ### 연습 1.2
# PREROUTING에서 패킷을 **가장 먼저** 보는 테이블은?

# %%
answer = ...  # 테이블 이름

# %%
check_answer("1.2 PREROUTING의 첫 테이블", answer,
             expected=netfilter.tables_at("PREROUTING")[0],
             hint="우선순위 숫자가 가장 작은 테이블이 먼저 돕니다.",
             common={"nat": "nat의 −100도 작지만 raw의 −300이 더 작습니다. 가장 작은 숫자가 먼저 돕니다.",
                     "filter": "filter는 PREROUTING에 아예 없습니다(빈칸을 보세요).",
                     "mangle": "mangle(−150)도 일찍 돌지만 raw(−300)가 더 먼저입니다."},
             explain="raw는 연결 추적보다 먼저 돕니다. 바로 그러려고 있는 테이블입니다.")

# %% [markdown]
# ### 연습 1.3
# 다섯 훅 중 몇 곳에 **nat** 테이블의 체인이 있을까요?

# %%
answer = ...  # 숫자

# %%
check_answer("1.3 nat이 있는 훅 수", answer,
             expected=sum("nat" in netfilter.tables_at(h) for h in netfilter.HOOKS),
             hint="위 표에서 nat 열에 숫자가 있는 행을 세어 보세요.",
             common={5: "FORWARD 행을 보세요. nat은 거기에 체인이 없습니다.",
                     2: "목적지 NAT은 PREROUTING과 OUTPUT, 출발지 NAT은 INPUT과 POSTROUTING입니다. 다시 세어 보세요."},
             explain="FORWARD에는 없습니다. nat은 라우팅 전(DNAT)이나 라우팅 뒤(SNAT)에 주소를 바꿉니다.")

# %% [markdown]
# ## 3 · 세 가지 여정
#
# 라우팅 결정이 그림을 세 갈래로 나눕니다.
#
# 1. **이 노드로**: PREROUTING → INPUT
# 2. **이 노드를 거쳐**(파드나 다른 호스트로): PREROUTING → FORWARD → POSTROUTING
# 3. **이 노드에서**: OUTPUT → POSTROUTING

# %% [markdown]
# 노드를 **거쳐 가는** 여정을 그려 봅니다. 노드 주소가 `192.168.3.215`이고 filter 테이블에 규칙이
# 하나도 없는(그래서 정책만 말하는) 노드에서, `192.168.3.10`이 `10.0.0.9`로 보내는 패킷입니다.
#
# ### 예측 1.a
# 트레이스를 실행하기 전에: 이 패킷은 다섯 훅 중 몇 개를 지날까요?

# %%
prediction = ...  # 숫자

# %%
no_rules = wb.parse("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
through = wb.trace_packet(no_rules, wb.Packet("192.168.3.10", "10.0.0.9", "tcp", dport=80), node_ips=["192.168.3.215"])
wb.draw_hooks(no_rules, trace=through)

# %%
check_prediction("1.a 거쳐 가는 길의 훅 수", prediction,
                 outcome=len(netfilter.path_for(through.packet, ["192.168.3.215"])),  # 그림이 보여 주는 길
                 why="PREROUTING 다음 라우팅이 패킷을 넘겨 보내고(FORWARD), 그다음 POSTROUTING입니다. INPUT과 "
                     "OUTPUT은 노드 자신으로 오고 가는 패킷만 지납니다.",
                 common={5: "패킷은 다섯 훅을 다 지나지 않고 자기 길 위의 훅만 지납니다.",
                         2: "PREROUTING과 POSTROUTING 사이에 FORWARD가 있습니다. 라우팅이 다른 호스트로 가는 "
                            "패킷이라고 정했으니까요."})

# %% [markdown]
# 라이브러리가 계산한 세 여정입니다.

# %%
import pandas as pd
journeys = {
    "이 노드로": dict(local=True, from_node=False),
    "이 노드를 거쳐": dict(local=False, from_node=False),
    "이 노드에서": dict(local=False, from_node=True),
}
pd.DataFrame([{"여정": name, "훅": " → ".join(netfilter.packet_path(**kw))}
              for name, kw in journeys.items()])

# %% [markdown]
# ### 연습 1.4
# 이 노드의 파드가 다른 노드의 파드로 DNS 질의를 보냅니다. 질의는 파드의 네트워크 네임스페이스를
# 떠나 파드의 veth 인터페이스로 노드에 들어오고 `eth0`으로 나갑니다. **노드의** netfilter 입장에서
# 어떤 훅을 순서대로 지날까요?

# %%
answer = ...  # 훅 이름의 리스트

# %%
check_answer("1.4 파드에서 원격 파드로", answer,
             expected=netfilter.packet_path(from_node=False, local=False), ordered=True,
             hint="노드가 보기에 파드는 인터페이스 너머의 또 다른 호스트일 뿐입니다. 패킷은 포워딩됩니다.",
             common={("OUTPUT", "POSTROUTING"): "파드는 노드가 아닙니다. 파드의 패킷은 네트워크에서 온 패킷처럼 "
                                                "파드의 veth로 들어옵니다.",
                     ("PREROUTING", "INPUT"): "INPUT은 노드 앞으로 온 패킷의 것입니다. 이 패킷은 다른 노드의 "
                                              "파드로 갑니다."})

# %% [markdown]
# ## 4 · nat은 첫 패킷만 본다
#
# 연결 추적(conntrack)은 모든 연결을 기억합니다. nat 테이블은 연결의 **첫** 패킷(conntrack 상태
# `NEW`)에서만 조회되고, 그때 고른 변환은 규칙을 다시 보지 않고 그 연결의 나머지 패킷에 그대로
# 적용됩니다.
#
# 그래서 nat 규칙을 바꿔도 이미 열린 연결에는 영향이 없고, kube-proxy는 기존 연결을 끊지 않고
# 엔드포인트를 바꿀 수 있습니다.

# %% [markdown]
# 트레이서로 확인해 봅시다. DNAT 규칙 하나짜리 작은 nat 테이블에, 같은 패킷을 한 번은 연결의 첫
# 패킷으로, 한 번은 나중 패킷으로 보냅니다.
#
# ### 예측 1.b
# 트레이스를 실행하기 전에: **나중** 패킷(conntrack 상태 `ESTABLISHED`)에 대해 트레이서는 nat 규칙을 몇 개
# 평가할까요?

# %%
prediction = ...  # 숫자

# %%
tiny = wb.parse("""*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.100.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.77:53
COMMIT
""")
first = wb.trace_packet(tiny, wb.Packet("192.168.3.10", "10.100.0.10", "udp", dport=53))
later = wb.trace_packet(tiny, wb.Packet("192.168.3.10", "10.100.0.10", "udp", dport=53, ctstate="ESTABLISHED"))
wb.draw_hooks(tiny, trace=first)

# %% [markdown]
# 첫 패킷을 한 단계씩 봅니다. nat PREROUTING이 목적지를 파드로 바꿉니다.

# %%
first

# %% [markdown]
# 같은 연결의 나중 패킷입니다.

# %%
print("\n".join(later.branches[0].notes))
print("평가한 규칙 수:", len(later.steps))

# %%
check_prediction("1.b 나중 패킷의 nat 규칙 수", prediction,
                 outcome=int((later.steps["table"] == "nat").sum()),
                 why="conntrack이 연결을 알고 있으니, nat은 첫 패킷에서만 조회됩니다.",
                 common={1: "DNAT 규칙은 첫 패킷에 맞았습니다. 나중 패킷에 대해서는 커널이 nat 규칙을 다시 "
                            "보지 않습니다."})

# %% [markdown]
# ### 연습 1.5
# kube-proxy는 nat 규칙을 다시 써서 서비스를 새 파드로 옮깁니다. 참일까요, 거짓일까요? **이미 열려 있는**
# 연결의 패킷도 곧바로 새 규칙을 따른다. (`True`/`False`, `"참"`/`"거짓"`, `"예"`/`"아니오"` 어느 것이든
# 됩니다.)

# %%
answer = ...  # 참 또는 거짓

# %%
check_answer("1.5 열린 연결과 새 nat 규칙", answer,
             expected=bool((later.steps["table"] == "nat").any()),  # 나중 패킷이 규칙을 보기나 할까?
             hint="위의 나중 패킷 트레이스를 보세요. 어떤 nat 규칙을 만났나요?",
             common={True: "규칙은 바뀌지만 나중 패킷은 규칙에 닿지 않습니다. conntrack이 첫 패킷 때 고른 "
                           "변환을 그대로 씁니다."},
             explain="conntrack이 이 연결을 이미 알고 있어서 첫 패킷 때 고른 DNAT를 그대로 적용합니다. "
                     "새 규칙을 보는 것은 새 연결뿐입니다.")

# %% [markdown]
# 다음: [02 · 테이블과 체인](02-tables-and-chains.ipynb).
