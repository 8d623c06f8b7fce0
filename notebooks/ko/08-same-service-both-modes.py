# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · 두 모드의 같은 Service
#
# kube-proxy는 Service 규칙을 **iptables** 체인(`KUBE-SVC-…`, `KUBE-SEP-…`)으로 쓰거나, **nftables**
# 테이블 하나(`table ip kube-proxy`)로 씁니다. 패킷이 도착하는 엔드포인트는 같지만, 규칙의 모양과 덤프에
# 보이는 것, 그리고 포렌식이 어디서 틀리는지는 다릅니다. 이 노트북은 작은 클러스터 하나를 두 모드로 만들고,
# 같은 패킷을 양쪽으로 추적한 다음, 실제 nftables 모드 노드(`datasets/nft-mode-node`)를 살펴봅니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import tempfile
from pathlib import Path

import pandas as pd

import workbook as wb
from workbook.dump import save_dump
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.generate import Service, kube_proxy_nft, kube_proxy_save
from workbook.lessons.lesson import setup, tidy
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.trace import NftTracer

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 1 · 클러스터 하나, 두 번 쓰기
#
# 엔드포인트가 둘인 kube-dns와 하나인 web Service입니다. `kube_proxy_save`는 kube-proxy의 iptables 모드가
# `iptables-restore`로 올리는 내용을, `kube_proxy_nft`는 nftables 모드가 `nft -f`로 올리는 내용을 씁니다.

# %%
cluster = [
    Service("kube-system", "kube-dns", "dns", "udp", "10.96.0.10", 53, [("10.244.1.5", 53), ("10.244.2.7", 53)]),
    Service("default", "web", "http", "tcp", "10.96.41.7", 80, [("10.244.1.9", 8080)]),
]
iptables_mode = wb.parse(kube_proxy_save(cluster))
nft_mode = parse_nft_text(kube_proxy_nft(cluster), "kube_proxy_nft")
tidy(pd.DataFrame([
    {"mode": "iptables", "rules": len(iptables_mode.rules), "chains": len(iptables_mode.chains)},
    {"mode": "nftables", "rules": sum(len(c.rules) for t in nft_mode.tables.values() for c in t.chains.values()),
     "chains": sum(len(t.chains) for t in nft_mode.tables.values())},
]))

# %% [markdown]
# nftables 모드에서는 엔드포인트마다 `endpoint-HASH-네임스페이스/이름/프로토콜/포트__ip/포트` 체인이 하나씩
# 생깁니다. iptables 모드에서 엔드포인트마다 `KUBE-SEP-…` 체인이 하나씩 생기는 것과 같습니다.

# %%
sorted(name for t in nft_mode.tables.values() for name in t.chains if name.startswith("endpoint-"))

# %% [markdown]
# ### 연습 8.1
# 이 클러스터에 대해 iptables 모드는 `KUBE-SEP-…` 체인을 몇 개 쓸까요?

# %%
answer = ...  # 숫자

# %%
check_answer("8.1 endpoint chains", answer, expected=len([c for c in iptables_mode.tables["nat"].chains
                                                         if c.startswith("KUBE-SEP-")]),
             hint="두 모드 모두 엔드포인트마다 하나입니다. 두 Service의 엔드포인트를 세어 보세요.",
             common={2: "kube-dns의 엔드포인트는 둘이지만 web에도 하나 있습니다."})

# %% [markdown]
# ## 2 · 같은 패킷을 양쪽으로 추적하기
#
# 파드 하나가 kube-dns에 질의합니다. 한 번은 iptables 모드 규칙으로, 한 번은 nftables 모드 테이블로 보냅니다.

# %% [markdown]
# ### 예측하고 실행하기 8.a
# nftables 모드 규칙에서 이 패킷이 나가는 길(분기)은 몇 가지일까요?

# %%
prediction = ...  # 숫자

# %%
query = wb.Packet("10.244.0.5", "10.96.0.10", "udp", 40000, 53)
by_iptables = wb.trace_packet(iptables_mode, query, node_ips=["192.168.0.2"])
by_nft = NftTracer(nft_mode).trace(query, ["192.168.0.2"])

# %%
check_prediction("8.a branches", prediction, outcome=len(by_nft.branches),
                 why="엔드포인트가 둘입니다. iptables는 `-m statistic --probability 0.5`로, nftables는 "
                     "`numgen random mod 2`로 고릅니다. 어느 쪽이든 길은 두 가지이고 각각 절반입니다.")

# %%
tidy(pd.DataFrame([{"mode": m, "branch": i + 1, "probability": b.probability, "DNAT to": b.dnat, "verdict": b.verdict}
                   for m, t in (("iptables", by_iptables), ("nftables", by_nft)) for i, b in enumerate(t.branches)]))

# %% [markdown]
# 나란히 놓은 각 모드의 첫 번째 분기입니다. PREROUTING에서 일치한 규칙들만 보입니다.

# %%
def dnat_path(trace):
    steps = trace.steps
    steps = steps[(steps.branch == 0) & (steps.hook == "PREROUTING") & steps.matched & steps.position.notna()]
    return steps[["chain", "spec", "action"]].reset_index(drop=True)


pd.concat({"iptables mode": tidy(dnat_path(by_iptables)), "nftables mode": tidy(dnat_path(by_nft))}, axis=1)

# %% [markdown]
# 같은 두 경로를 그림으로 봅니다. 먼저 iptables 모드, 다음은 nftables 모드입니다. nftables 모드의 체인은
# kube-proxy 자신의 베이스 체인(우선순위 `dstnat`의 `nat-prerouting`)에 달려 있고, iptables-nft 테이블과
# 나란히 있습니다.

# %%
wb.draw_trace(by_iptables)

# %%
wb.draw_trace(by_nft)

# %% [markdown]
# ### 연습 8.2
# nftables 모드에서 엔드포인트를 고르는 표현식은 무엇일까요? nft가 출력하는 그대로 첫 단어를 적으세요.

# %%
answer = ...  # 단어 하나

# %%
check_answer("8.2 endpoint picker", answer, expected="numgen",
             hint="위 표에서 service-… 체인의 규칙을 보세요.",
             common={"statistic": "그것은 iptables의 매치입니다. nftables 모드는 난수 생성기를 씁니다."})

# %% [markdown]
# ## 3 · iptables-nft 테이블의 두 보기가 각각 숨기는 것
#
# iptables가 nf_tables 변형인 노드(원글의 EKS 노드)에서는 같은 규칙을 두 번 출력할 수 있습니다.
# `iptables-save`와 `nft list ruleset`입니다. 규칙끼리 짝지어 보면 보기마다 잃는 것이 있습니다.

# %%
from workbook.nft.views import compare_views

eks = wb.load_dump(DATASETS / "eks-node")
views = compare_views(eks.ruleset, eks.nft)
lost = views[views.lost_in_nft.map(len) > 0]
tidy(lost[["table", "chain", "position", "iptables", "nft", "lost_in_nft"]].head(8))

# %% [markdown]
# 가장 큰 손실은 주석입니다. `kube-system/kube-dns:dns cluster IP` 같은 주석은 규칙이 어느 Service의
# 것인지 알려 주지만, nft 보기에는 주소만 남습니다. 반대로 nftables 모드 kube-proxy의 테이블 같은 네이티브
# 테이블은 nft 보기에**만** 있습니다.

# %% [markdown]
# ### 연습 8.3
# eks-node에서 kube-dns의 `dns` 포트는 엔드포인트가 둘입니다(체인 `KUBE-SVC-TCOU7JCQXEZGVUNU`).
# 이 체인의 규칙 중 몇 개가 nft 보기에서 `-m statistic` 확률을 잃을까요?

# %%
answer = ...  # 숫자

# %%
svc = views[(views.table == "nat") & (views.chain == "KUBE-SVC-TCOU7JCQXEZGVUNU")]
check_answer("8.3 probabilities lost", answer,
             expected=int(svc.lost_in_nft.map(lambda lost: any("statistic" in x for x in lost)).sum()),
             hint="엔드포인트가 둘이면 첫 점프에 `--probability 0.5`가 있고, 마지막 점프에는 필요 없습니다.",
             common={2: "마지막 점프는 남은 패킷을 모두 받으므로 잃을 statistic 매치가 없습니다."})

# %% [markdown]
# ## 4 · 눈먼 덤프의 함정
#
# `datasets/nft-mode-node`는 kube-proxy가 nftables 모드로 도는 노드입니다. 예전 수집기처럼 이 노드의
# `iptables-save`, `lsmod`, kube-proxy 모드만 가져와서 점검해 봅니다.

# %% [markdown]
# ### 예측하고 실행하기 8.b
# `check`가 이 덤프로는 kube-proxy의 규칙을 볼 수 없다고 말할까요(예 / 아니오)?

# %%
prediction = ...  # 예 / 아니오

# %%
node = DATASETS / "nft-mode-node"
only_iptables = save_dump({rel: (node / rel).read_text() for rel in
                           ("iptables/iptables-save.txt", "kernel/lsmod.txt", "kubelet/kube-proxy-mode.txt")},
                          Path(tempfile.mkdtemp(prefix="nfwb-08-")) / "only-iptables")
blind = wb.check(wb.load_dump(only_iptables))

# %%
check_prediction("8.b blind dump", prediction, outcome="yes" if any(f.id == "blind-dump" for f in blind) else "no",
                 why="iptables-save에는 Service 규칙이 하나도 없습니다. kube-proxy는 nftables라고 하고 lsmod에는 "
                     "nf_tables가 보이므로, 점검은 덤프가 눈멀었다고 말하고 `nft -a list ruleset` 수집 방법을 알려 줍니다.")

# %%
tidy(blind.frame[["id", "severity", "title"]])

# %% [markdown]
# ## 5 · 낡은 conntrack 항목
#
# 전체 덤프에는 `conntrack -L`도 있습니다. kube-dns의 coredns 파드가 교체되는 동안 실제로 보낸 패킷이
# 남긴 실제 항목들입니다(`datasets/nft-mode-node/README.md` 참고). 규칙은 옛 파드를 잊었지만
# conntrack은 잊지 않았습니다.

# %%
full = wb.load_dump(node)
tidy(full.conntrack[["protocol", "orig_dst", "orig_sport", "reply_src", "service", "status"]])

# %%
stale = [f for f in wb.check(full) if f.id == "stale-conntrack-entry"]
print(stale[0].title)
print("\n".join(stale[0].fix))

# %% [markdown]
# 수정 명령은 옛 엔드포인트를 `--reply-src`로 지정하므로, 같은 Service의 살아 있는 흐름은 절대 지우지
# 않습니다.

# %% [markdown]
# ### 연습 8.4
# 낡은 항목들은 DNS 질의를 아직 어느 주소로 보내고 있을까요?

# %%
answer = ...  # IP 주소

# %%
check_answer("8.4 stale endpoint", answer, expected=full.conntrack.query("status == 'stale-endpoint'").reply_src.unique()[0],
             hint="status가 stale-endpoint인 행의 reply_src입니다.",
             common={"192.168.7.183": "그 주소는 아직 엔드포인트입니다(status live)."})
