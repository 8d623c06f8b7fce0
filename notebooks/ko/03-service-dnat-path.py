# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · ClusterIP에서 파드까지: 서비스 DNAT 경로
#
# 쿠버네티스 서비스의 ClusterIP는 어느 인터페이스에도 붙어 있지 않습니다. 모든 노드에서 kube-proxy
# (iptables 모드)가 nat 규칙을 써 두고, 그 규칙이 연결의 첫 패킷의 목적지를 서비스의 파드 중 하나로
# **바꿔 씁니다**. 원문은 DNS 질의 하나를 따라가며 그 순서를 이렇게 적습니다(원문 인용).
#
# > iptables 정책 적용 순서 : PREROUTING → KUBE-SERVICES → KUBE-SVC-### → KUBE-SEP-#<파드1> , KUBE-SEP-#<파드2> , KUBE-SEP-#<파드3>
#
# 아래 목록은 원문 글쓴이가 EKS 워커 노드에서 뜬 실제 출력입니다(*[AWS EKS] (5) EKS 스터디 2주차
# ( iptables - CNI HOST PORT CHAIN )*, CloudNet@팀 AEWS 스터디 2기).

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 1 · 세 목록 읽기
#
# `iptables -v -n -t nat -L CHAIN`은 체인 하나를 넓은 표로 찍습니다(원문 인용).

# %%
kube_services_L = r"""
Chain KUBE-SERVICES (2 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-SVC-ERIFXISQEP7F7OF4  tcp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:dns-tcp cluster IP */ tcp dpt:53
    0     0 KUBE-SVC-JD5MR3NA4I4DYORP  tcp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:metrics cluster IP */ tcp dpt:9153
    0     0 KUBE-SVC-Z4ANX4WAEWEBLCTM  tcp  --  *      *       0.0.0.0/0            10.100.254.40        /* kube-system/metrics-server:https cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-NPX46M4PTMTKRN6Y  tcp  --  *      *       0.0.0.0/0            10.100.0.1           /* default/kubernetes:https cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-I7SKRZYQ7PWYV5X7  tcp  --  *      *       0.0.0.0/0            10.100.227.12        /* kube-system/eks-extension-metrics-api:metrics-api cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-7EJNTS7AENER2WX5  tcp  --  *      *       0.0.0.0/0            10.100.153.164       /* kube-system/kube-ops-view:http cluster IP */ tcp dpt:8080
    0     0 KUBE-SVC-UAGC4PYEYZJJEW6D  tcp  --  *      *       0.0.0.0/0            10.100.79.8          /* kube-system/aws-load-balancer-webhook-service:webhook-server cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-TCOU7JCQXEZGVUNU  udp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:dns cluster IP */ udp dpt:53
 1120 61085 KUBE-NODEPORTS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service nodeports; NOTE: this must be the last rule in this chain */ ADDRTYPE match dst-type LOCAL
"""

kube_svc_L = r"""
Chain KUBE-SVC-TCOU7JCQXEZGVUNU (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-SEP-4JJWD7DPDSPAPXRS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.1.77:53 */ statistic mode random probability 0.50000000000
    0     0 KUBE-SEP-CMUTYLZJRO6PLWPI  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.2.64:53 */
"""

kube_sep_L = r"""
Chain KUBE-SEP-4JJWD7DPDSPAPXRS (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-MARK-MASQ  all  --  *      *       192.168.1.77         0.0.0.0/0            /* kube-system/kube-dns:dns */
    0     0 DNAT       udp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns */ udp to:192.168.1.77:53
"""

listed = wb.parse("\n".join([kube_services_L, kube_svc_L, kube_sep_L]), format="listing")
listed

# %% [markdown]
# 목록은 매치를 iptables 자신의 말로 보여 줍니다(`udp dpt:53`, `statistic mode random probability
# 0.50000000000`). workbook은 이를 정확한 규칙 스펙으로 되돌립니다.

# %%
tidy(listed.rules[["chain", "position", "target", "comment", "spec"]])

# %% [markdown]
# 마지막 체인 `KUBE-SEP-4JJWD7DPDSPAPXRS`(엔드포인트 하나)를 아래에서 위로 읽어 봅시다.
#
# * **DNAT** 규칙이 목적지를 파드 `192.168.1.77:53`으로 바꿉니다. 원문의 표현으로는
#   "DNAT(목적지 변경)"입니다.
# * 그 위 규칙은 딱 하나의 특이한 경우, **출발지가 바로 그 파드**일 때를 잡습니다. 파드가 자기
#   서비스를 거쳐 자기 자신에게 닿는 경우입니다. 이 규칙은 패킷에 표시(`KUBE-MARK-MASQ`)를 해서
#   POSTROUTING이 마스커레이드하게 합니다. 그러지 않으면 파드는 서비스 주소가 아니라 자기 주소로
#   자신에게 곧장 답하고, 그 답을 알아보지 못합니다.

# %% [markdown]
# ### 연습 3.1
# 파드가 `10.100.0.10:53`으로 UDP 패킷을 보냅니다. `KUBE-SERVICES`는 이 패킷을 어느 체인으로 보낼까요?

# %%
answer = ...  # 체인 이름

# %%
svc_rules = listed.rules.query("chain == 'KUBE-SERVICES'")
dns = svc_rules[(svc_rules["destination"].str.startswith("10.100.0.10")) & (svc_rules["protocol"] == "udp")]
check_answer("3.1 kube-dns udp 체인", answer, expected=dns["target"].iloc[0],
             hint="목적지가 10.100.0.10이고 프로토콜이 udp인 규칙을 찾으세요.",
             common={"KUBE-SVC-ERIFXISQEP7F7OF4": "그것은 **tcp**로 가는 kube-dns(dns-tcp)입니다. 질의는 udp입니다.",
                     "KUBE-SEP-4JJWD7DPDSPAPXRS": "KUBE-SEP 체인은 한 단계 뒤입니다. KUBE-SERVICES는 먼저 서비스의 "
                                                  "KUBE-SVC 체인으로 점프합니다."},
             explain="주석에 그대로 적혀 있습니다: kube-system/kube-dns:dns.")

# %% [markdown]
# ## 2 · 노드 전체
#
# 원문은 체인 몇 개만 보여 줍니다. `datasets/eks-node`에는 원문의 노드를 닮은 노드의 전체 덤프가
# 있습니다(목록에 나온 체인은 원문의 출력과 정확히 같습니다). 불러옵니다.

# %%
eks = wb.load_dump(DATASETS / "eks-node")
rs = eks.ruleset
rs

# %% [markdown]
# nat 테이블에서 그린 kube-dns 서비스의 경로입니다(DNS 서비스의 체인과 그 체인이 점프하는 모든 곳).

# %%
wb.draw_chains(rs, "nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")

# %% [markdown]
# `workbook.kube.services`는 kube-proxy 체인에서 서비스 포트를 모두 읽어 냅니다. ClusterIP, 포트,
# `KUBE-SVC` 체인, 엔드포인트, 그리고 새 연결 중 각 엔드포인트가 받는 몫입니다.

# %%
from workbook import kube
svcs = kube.services(rs)
tidy(svcs[["service", "protocol", "cluster_ip", "port", "chain", "endpoints", "probabilities"]])

# %% [markdown]
# ### 연습 3.2
# `kube-system/kube-dns:dns`를 맡은 파드 엔드포인트(`ip:port`)는? 리스트로 답하세요.

# %%
answer = ...  # 예: ["10.0.0.1:53", ...]

# %%
row = svcs[svcs["service"].str.contains("kube-dns:dns") & (svcs["protocol"] == "udp")].iloc[0]
check_answer("3.2 kube-dns 엔드포인트", answer, expected=list(row["endpoints"]),
             hint="endpoints 열을 보거나, KUBE-SEP 체인의 DNAT 타깃을 보세요.",
             common={("10.100.0.10:53",): "10.100.0.10은 서비스의 ClusterIP입니다. 엔드포인트는 그 뒤의 파드들입니다."})

# %% [markdown]
# ## 3 · DNS 질의 하나 따라가기
#
# 이 노드의 kube-ops-view 파드(`192.168.3.98`)가 kube-dns에 묻습니다. 노드의 `ip route`를 보면 이
# 파드는 `eni5d1d36193a1` 인터페이스 뒤에 있습니다. 패킷이 그리로 노드에 들어오므로 PREROUTING에서
# 시작합니다. 트레이서는 패킷이 갈 수 있는 모든 길을 따라갑니다.
#
# ### 예측 3.a
# 트레이스를 실행하기 전에: 몇 개의 **갈래**(branch, 가능한 길)로 나뉠까요?

# %%
prediction = ...  # 숫자

# %%
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
dns_trace = wb.trace_packet(rs, query, node_ips=eks.node_ips)
dns_trace

# %%
check_prediction("3.a DNS 질의의 갈래 수", prediction, outcome=len(dns_trace.branches),
                 why="KUBE-SVC-TCOU7JCQXEZGVUNU의 statistic 규칙이 길을 나눕니다. kube-dns 엔드포인트마다 갈래 "
                     "하나씩, 각각 확률이 붙습니다.",
                 common={1: "진짜 패킷 하나는 한 길로만 가지만, 트레이서는 갈 수 있는 길을 모두 적습니다. "
                            "서비스의 엔드포인트마다 하나씩입니다."})

# %% [markdown]
# 같은 트레이스를 그림으로 봅니다. 지나간 길과 갈라지는 곳입니다.

# %%
wb.draw_trace(dns_trace, rs)

# %% [markdown]
# 첫 패킷이 어디에 닿는지, 얼마나 자주인지:

# %%
pd.DataFrame({"DNAT 목적지": list(dns_trace.destinations),
              "새 연결 중 몫": [f"{p:.0%}" for p in dns_trace.destinations.values()]})

# %% [markdown]
# ### 연습 3.3
# 이 파드가 여는 새 DNS 연결 중 `192.168.2.64:53`으로 가는 비율은? (`0.5`든 `"50%"`든 됩니다.)

# %%
answer = ...  # 0과 1 사이의 수, 또는 "NN%"

# %%
check_answer("3.3 192.168.2.64의 몫", answer, expected=dns_trace.destinations.get("192.168.2.64:53", 0.0),
             hint="첫 엔드포인트 규칙은 확률 0.5로 매치됩니다. 두 번째는 남은 것을 모두 받습니다.",
             common={1: "두 번째 규칙에는 statistic 매치가 없지만, 첫 규칙이 가져가지 않은 패킷, 즉 절반만 봅니다.",
                     0: "192.168.2.64는 두 번째 엔드포인트입니다. 첫 규칙이 넘긴 패킷을 모두 받습니다."})

# %% [markdown]
# ## 4 · 왜 1/n, 그다음 1/(n−1), …일까
#
# kube-proxy는 엔드포인트 규칙 *n*개 중 첫 번째에 확률 1/n을 줍니다. 매치되지 않으면 다음 규칙은 남은
# 경우만 보므로 1/(n−1)을 받고, 그렇게 이어집니다. 마지막 규칙에는 `statistic` 매치가 없어 남은 것을
# 다 가져갑니다. 결국 모든 엔드포인트가 같은 몫을 받습니다.
#
# iptables는 확률을 2³¹ 분의 정수로 저장하고 소수 11자리로 찍습니다. 그래서 1/3이 `0.33333333349`로
# 보입니다.

# %%
from workbook.generate import probability_text

pd.DataFrame({"엔드포인트 수 n": range(2, 7), "첫 규칙에 찍히는 값": [probability_text(n) for n in range(2, 7)]})

# %% [markdown]
# ### 연습 3.4
# 엔드포인트가 **세 개**인 서비스가 있습니다. **두 번째** 엔드포인트 규칙에 iptables가 찍는 확률은?
# (숫자면 충분합니다.)

# %%
answer = ...  # 숫자

# %%
check_answer("3.4 셋 중 두 번째", answer, expected=float(probability_text(2)),
             hint="첫 규칙을 지나면 엔드포인트가 둘 남습니다.",
             common={"1/3": "1/3은 **첫** 규칙의 확률입니다. 두 번째 규칙은 첫 규칙이 남긴 2/3만 보고 그 절반을 "
                            "가져가니, 자기 확률은 1/2입니다.",
                     "2/3": "패킷의 2/3가 두 번째 규칙에 닿는 것은 맞지만, 묻는 것은 그 규칙에 찍히는 확률, 즉 "
                            "닿은 것 중의 몫입니다."})

# %% [markdown]
# ## 5 · 모든 서비스를 한꺼번에
#
# 노드의 ClusterIP마다 패킷을 하나씩 보내 어디에 닿는지 모읍니다(진행 막대가 얼마나 왔는지 보여 줍니다).
#
# ### 예측 3.b
# 질의는 여전히 kube-ops-view 파드 `192.168.3.98`에서 옵니다. 트레이스를 실행하기 전에: 이 패킷들 중
# 가는 길에 **마스커레이드**(출발지 NAT)되는 것이 있을까요? 참 또는 거짓으로 답하세요.

# %%
prediction = ...  # 참 또는 거짓

# %%
from tqdm.auto import tqdm
rows = []
for s in tqdm(svcs.itertuples(), total=len(svcs), desc="서비스 추적 중"):
    t = wb.trace_packet(rs, wb.Packet("192.168.3.98", s.cluster_ip, s.protocol, dport=int(s.port),
                                      in_iface="eni5d1d36193a1"), node_ips=eks.node_ips)
    rows.append({"service": s.service, "clusterIP": f"{s.cluster_ip}:{s.port}/{s.protocol}",
                 "endpoints": len(s.endpoints), "branches": len(t.branches),
                 "lands on": ", ".join(sorted(str(d) for d in t.destinations)),
                 "masqueraded": any(b.masquerade for b in t.branches)})
landing = pd.DataFrame(rows)
landing

# %%
check_prediction("3.b 마스커레이드가 있나", prediction, outcome=bool(landing["masqueraded"].any()),
                 why="자기 서비스에 닿았다가 자신이 엔드포인트로 뽑힌 파드는 KUBE-SEP 체인의 첫 규칙"
                     "(KUBE-MARK-MASQ)이 표시합니다. 1절의 헤어핀 경우입니다.",
                 common={False: "KUBE-SEP의 첫 규칙을 보세요. `-s <엔드포인트 자신의 IP>`가 패킷에 마스커레이드 "
                                "표시를 합니다. 192.168.3.98이 어떤 서비스의 엔드포인트인가요?"})

# %% [markdown]
# ### 연습 3.5
# 이 서비스 포트 중 엔드포인트가 **하나**뿐이라 모든 새 연결이 같은 파드로 가는(`statistic` 규칙이
# 없고 갈래가 하나인) 것은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("3.5 엔드포인트 하나짜리 서비스", answer, expected=int((landing["branches"] == 1).sum()),
             hint="branches가 1인 행을 세어 보세요.",
             common={8: "여기 서비스 대부분은 엔드포인트가 둘입니다. branches가 1인 행만 세세요."},
             explain="그 파드 하나가 죽으면 서비스도 죽습니다. 실제 장애에서 눈여겨볼 곳입니다.")

# %% [markdown]
# ### 연습 3.6
# 한 서비스에서는 패킷이 **마스커레이드**되기도 합니다(마지막 열을 보세요). 1절의 헤어핀(hairpin)
# 경우입니다. 어느 서비스이고, 왜 하필 그 서비스일까요?

# %%
answer = ...  # service 열에 적힌 서비스 이름

# %%
check_answer("3.6 헤어핀 서비스", answer, expected=landing[landing["masqueraded"]]["service"].tolist()[0],
             hint="질의는 192.168.3.98에서 옵니다. 그 파드를 엔드포인트로 가진 서비스는?",
             common={"kube-system/kube-dns:dns": "파드가 가장 많이 묻는 서비스는 kube-dns지만, 그 엔드포인트는 "
                                                 "다른 파드들입니다. 마스커레이드할 일이 없습니다."},
             explain="kube-ops-view 파드가 자기 서비스에 물었고 자신이 엔드포인트로 뽑혔습니다: KUBE-MARK-MASQ.")

# %% [markdown]
# ## 6 · 직접 망가뜨려 보기: 엔드포인트 하나 없애기
#
# kube-dns 파드 하나가 사라지면 kube-proxy가 서비스의 체인을 다시 씁니다. 그 일의 절반만, 노드 규칙의
# **사본**에서 손으로 해 봅니다(어느 기계에서도 바뀌는 것은 없습니다). `KUBE-SVC-TCOU7JCQXEZGVUNU`에서
# 엔드포인트 하나의 `KUBE-SEP` 체인으로 가는 점프를 지우고, 나머지는 그대로 둡니다.

# %%
REMOVE = "192.168.1.77:53"     # 점프를 지울 엔드포인트. "192.168.2.64:53"도 해 보세요

lines = rs.to_save().splitlines()
gone = [ln for ln in lines if ln.startswith("-A KUBE-SVC-TCOU7JCQXEZGVUNU ") and f"-> {REMOVE}" in ln]
broken_rs = wb.parse("\n".join(ln for ln in lines if ln not in gone) + "\n")
print("지운 규칙:", *gone, sep="\n  ")

# %% [markdown]
# 검사는 이 사본에 대해 뭐라고 할까요? (실제 노드에서는 아무것도 찾지 않습니다.)

# %%
wb.check(broken_rs)

# %% [markdown]
# ### 예측 3.c
# 트레이스를 실행하기 전에: 그 점프가 사라진 지금, 새 DNS 연결 중 `192.168.2.64:53`에 닿는 몫은 얼마일까요?

# %%
prediction = ...  # 0과 1 사이의 수, 또는 백분율

# %%
broken_trace = wb.trace_packet(broken_rs, query, node_ips=eks.node_ips)
pd.DataFrame({"DNAT 목적지": [d or "(DNAT 없음: 10.100.0.10 그대로)" for d in broken_trace.destinations],
              "새 연결 중 몫": [f"{p:.0%}" for p in broken_trace.destinations.values()]})

# %%
check_prediction("3.c 엔드포인트를 없앤 뒤", prediction,
                 outcome=broken_trace.destinations.get("192.168.2.64:53", 0.0),
                 why="192.168.1.77의 점프가 사라지면 남은 규칙은 마지막 규칙이고, 거기엔 statistic 매치가 없어 "
                     "전부 가져갑니다. 반대로 192.168.2.64의 점프를 지웠다면 0.5 규칙만 남아, 질의의 절반이 DNAT "
                     "없이 아무 파드도 없는 주소로 떨어집니다. REMOVE를 그것으로 바꾸고 셀들을 다시 실행해 보세요.",
                 common={0.5: "0.5는 첫 규칙의 확률이었습니다. 남은 규칙은 마지막 규칙이고, 마지막 규칙에는 "
                              "statistic 매치가 없습니다."})

# %% [markdown]
# 검사는 남겨진 `KUBE-SEP` 체인을 *오래된(stale)* 체인이라고 부릅니다. 이제 아무도 그리로 점프하지 않습니다.
# kube-proxy는 체인을 그 점프와 함께 지우므로, 오래된 체인이 있다는 것은 누군가(또는 무언가) 규칙을 손으로
# 고쳤다는 뜻입니다.

# %% [markdown]
# ## 7 · 탐색해 보기
#
# 서비스를 고르면 체인, 엔드포인트, 트레이스를 보여 줍니다.

# %%
from workbook.view.widgets import ServiceExplorer
ServiceExplorer(rs)

# %% [markdown]
# ### 연습 3.7
# 이 노드의 ClusterIP 하나는 서비스 포트를 **세 개** 싣고 있습니다(탐색기에서 IP로 찾아보세요). 어느 IP일까요?

# %%
answer = ...  # IP 주소

# %%
per_ip = svcs["cluster_ip"].value_counts()
check_answer("3.7 바쁜 ClusterIP", answer, expected=per_ip.index[per_ip == 3][0],
             hint="같은 서비스의 포트 셋: UDP DNS, TCP DNS, 그리고 metrics.")

# %% [markdown]
# 다음: [04 · 중복된 CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb).
