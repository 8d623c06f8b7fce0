# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · dockershim이 사라진 뒤 중복된 `CNI-HOSTPORT-DNAT`
#
# 원문의 후반부는 프라이빗 클라우드 클러스터(RKE, Calico, `hostPort`로 노출한 인그레스 컨트롤러)에서
# 난 장애입니다. 원문 제목은 "Dockershim 사용 종료에 따른 Known issue (SideEffect)". 업그레이드 뒤
# 인그레스 트래픽이 실패했고, `iptables -t nat -L PREROUTING`에는 같은 점프가 **두 번** 나왔습니다.
#
# 원문은 이렇게 요약합니다: "k8s 버전 업그레이드 , 드레인 , etcd 롤백 간에 해당 체인의 타겟에 대한
# 삭제와 재생성이 제대로 이루어지지 않는 경우 ingress 서비스 통신 장애를 일으킨다."

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ### 배경: hostPort는 어떻게 동작하나
#
# 원문의 설명: "CNI-HOSTPORT-DNAT 일반적으로 CNI 플러그인이 관리하는 HostPort 기능을 처리하는 역할을
# 한다. 즉, Pod가 특정 호스트의 포트를 바인딩 했을때, 해당 트래픽을 해당 Pod로 DNAT(목적지 변경) 처리
# 하는것이다." 구체적으로는 `hostPort: 80`을 가진 파드가 CNI **portmap** 플러그인에게 노드의 80 포트를
# 파드로 넘겨 달라고 하고, portmap이 nat 규칙을 씁니다.
#
# * PREROUTING과 OUTPUT에 점프 하나: `-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`
#   (‘이 노드의 어느 주소로 오든 hostPort 표를 보라’). 원문의 말로는 "해당 타겟의 조건은 로컬 노드의
#   IP로 향하는 트래픽을 처리 한다."
# * `CNI-HOSTPORT-DNAT` 안에 파드마다 항목 하나(`dnat name: … id: <container>`). 파드별 `CNI-DN-…`
#   체인으로 점프합니다.
# * `CNI-DN-…` 안에 `podIP:containerPort`로 가는 DNAT.
#
# 파드가 사라지면 런타임이 파드의 포트 매핑을 넘기며 portmap의 DEL을 부르고, portmap이 그 파드의
# 규칙을 지웁니다. 런타임이 매핑을 **잊어버렸다면** DEL은 아무것도 지우지 않습니다.

# %% [markdown]
# ## 1 · 원문이 본 것
#
# 장애 뒤 워커 노드의 nat PREROUTING입니다(원문 인용. 마지막 줄이 중복입니다).

# %%
prerouting_L = r"""
Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination
  42M 5365M cali-PREROUTING  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* cali:6gwbT8clXdHdC1b1 */
  42M 5365M KUBE-SERVICES  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service portals */
  13M 2085M DOCKER     all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
  13M 2085M CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
    0     0 CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
"""

seen = wb.parse(prerouting_L, format="listing")
tidy(seen.rules[["position", "target", "pkts", "bytes", "spec"]])

# %% [markdown]
# ### 연습 4.1
# PREROUTING에서 `CNI-HOSTPORT-DNAT`로 점프하는 규칙은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("4.1 CNI-HOSTPORT-DNAT로 가는 점프", answer,
             expected=int((seen.rules["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="target이 CNI-HOSTPORT-DNAT인 행을 세어 보세요.",
             common={1: "마지막 줄까지 읽으세요. 그 줄도 패킷 0개로 CNI-HOSTPORT-DNAT로 점프합니다."},
             explain="두 번째 사본은 패킷 수가 0입니다. 최근에 덧붙은 것입니다.")

# %% [markdown]
# ### 배경: 매핑은 왜 사라졌나
#
# 쿠버네티스 1.23까지 kubelet에는 **dockershim**이 들어 있었습니다. 원문: "k8s version 1.23.6까지는
# HOSTPORT로 생성된 파드들의 메타데이터가 /var/lib/dockershim/sandbox 내부에존재함". 파드 샌드박스마다
# 포트 매핑을 담은 체크포인트 파일 `/var/lib/dockershim/sandbox/<sandbox-id>`를 두고, 정리할 때 그
# 파일을 읽어 CNI DEL에 매핑을 넘겼습니다.
#
# RKE는 kubelet을 **컨테이너 안에서** 돌립니다. `/var/lib/dockershim`이 호스트에서 bind-mount되지 않아
# 체크포인트가 컨테이너 자신의 파일 시스템에 있었고, kubelet 컨테이너가 다시 만들어질 때마다(업그레이드,
# 인자 변경) 사라졌습니다. 다음 정리 때 체크포인트가 없으니 매핑 없이 DEL이 가고, portmap은 예전 규칙을
# 그대로 두고, 다시 만들어진 파드가 규칙을 *또* 넣었습니다. 원문은 이를 재현합니다: "해당 파일을 지우고
# HOSTPORT 파드를 재기동 하면 다음과 같이 Duplicate 된다."
#
# 쿠버네티스 1.24에서 dockershim이 빠졌으므로, 이 문제는 아직 dockershim을 쓰는(1.23까지) 클러스터나
# 1.23에서 1.24로 넘어가는 클러스터에만 해당합니다.

# %% [markdown]
# ## 2 · 두 노드 덤프로 보는 전과 후
#
# `datasets/onprem-dup-hostport`에는 그런 워커의 덤프가 둘 있습니다. kubelet 컨테이너를 다시 만들기
# 전(`before`)과, hostPort 파드를 재시작한 뒤(`after`)입니다.

# %%
before = wb.load_dump(DATASETS / "onprem-dup-hostport" / "before")
after = wb.load_dump(DATASETS / "onprem-dup-hostport" / "after")
print("before:", before.ruleset.summary())
print("after: ", after.ruleset.summary())

# %% [markdown]
# 재시작 뒤의 nat PREROUTING과 그 점프 대상들입니다(빨간 화살표가 사본).

# %%
wb.draw_chains(after.ruleset, "nat", "PREROUTING", depth=1)

# %% [markdown]
# ### 연습 4.2
# `after` 덤프에서 nat PREROUTING의 규칙 중 `CNI-HOSTPORT-DNAT`로 점프하는 것은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
pre = after.ruleset.rules.query("table == 'nat' and chain == 'PREROUTING'")
check_answer("4.2 after의 점프 수", answer, expected=int((pre["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="after.ruleset.rules를 nat 테이블, PREROUTING 체인으로 걸러 보세요.",
             common={1: "그림에 CNI-HOSTPORT-DNAT로 들어가는 화살표가 둘입니다. 덤프에도 사본이 있습니다."})

# %% [markdown]
# ## 3 · 진짜 피해는 한 단계 아래에
#
# 중복된 점프는 커널이 `CNI-HOSTPORT-DNAT`를 같은 결과로 두 번 걷게 할 뿐입니다. 인그레스를 망가뜨리는
# 것은 그 체인 **안**에 있습니다. 컨테이너마다 항목이 하나씩 있고, 각각 컨테이너 id가 붙어 있습니다.
# 두 덤프를 비교해 보세요(패킷 카운터를 눈여겨보세요).

# %%
import re
def hostport_entries(d):
    r = d.ruleset.rules.query("table == 'nat' and chain == 'CNI-HOSTPORT-DNAT'").copy()
    r["container id"] = r["comment"].str.extract(r'id: "([0-9a-f]+)"', expand=False).str[:12]
    return r[["position", "container id", "target", "pkts"]]

tidy(pd.concat([hostport_entries(before).assign(dump="before"), hostport_entries(after).assign(dump="after")])
     .set_index(["dump", "position"]))

# %% [markdown]
# `after`에는 같은 포트에 대한 항목이 둘 있습니다. 첫 번째는 여전히 연결을 세고 있고, 새 항목은 하나도
# 세지 못했습니다. 커널은 매치되는 **첫** 항목을 씁니다.
#
# kubelet이 아직 아는 컨테이너는 무엇일까요? 덤프에는 `ls -la /var/lib/dockershim/sandbox`가 남아 있습니다.
# 살아 있는 파드 샌드박스마다 체크포인트 파일이 하나씩입니다(원문의 해결 절차도 "HOSTPORT 파드에 대한
# 메타데이터 마운트 위치 확인"에서 시작합니다).

# %%
for name, d in [("before", before), ("after", after)]:
    print(f"--- {name}:"); print(d.text("kubelet/dockershim-sandbox.txt") or "(수집되지 않음)")

# %% [markdown]
# ### 연습 4.3
# `after`에서 `CNI-HOSTPORT-DNAT`에 항목은 있지만 체크포인트 파일은 **더 이상 없는** 컨테이너 id(앞
# 12글자)는? 그것이 오래된(stale) 항목입니다.

# %%
answer = ...  # 16진수 12글자

# %%
live = set(re.findall(r"\b([0-9a-f]{64})\b", after.text("kubelet/dockershim-sandbox.txt") or ""))
stale = [cid for cid in hostport_entries(after)["container id"] if not any(l.startswith(cid) for l in live)]
check_answer("4.3 오래된 컨테이너", answer, expected=stale[0] if stale else None,
             hint="항목의 컨테이너 id를 sandbox 목록의 파일 이름과 비교해 보세요.",
             common={"4ec72be6d83d": "4ec72be6d83d는 **새** 파드입니다. 체크포인트 파일이 있습니다(5월 17일). "
                                     "파일이 없는 항목을 찾으세요."},
             explain="파드는 사라졌지만 그 DNAT 규칙은 여전히 맨 앞에 서 있습니다.")

# %% [markdown]
# ## 4 · 80 포트로 온 요청은 어디로 갈까
#
# 클라이언트(`10.10.10.10`)에서 노드의 80 포트로 가는 새 연결을 두 덤프에서 추적하고, 첫 패킷이 DNAT되는
# 주소를 봅니다. 트레이서에는 노드의 라우팅 표(각 덤프의 `network/ip-route.txt`, 즉 `ip route` 출력)도
# 줍니다. PREROUTING 뒤에 커널은 (DNAT된) 목적지를 이 표에서 찾아 패킷이 나갈 인터페이스를 고르거나,
# 쓸 만한 경로가 없으면 버립니다. 트레이서도 똑같이 합니다.
#
# ### 예측 4.a
# 트레이스를 실행하기 전에: `after` 덤프에서 노드의 80 포트로 가는 새 연결은 어떤 **판정**을 받을까요?
# `"ACCEPT"` 또는 `"DROP"`.

# %%
prediction = ...  # "ACCEPT" 또는 "DROP"

# %%
node_ip = next(ip for ip in after.node_ips if ip.startswith("10.10."))   # the node's address on its LAN
print(after.text("network/ip-route.txt"))

def routing(t):
    """The tracer's note on the routing decision after PREROUTING."""
    return next((n for n in t.notes if n.startswith(("routing:", "dropped by routing"))), None)

rows, traces = [], {}
for name, d in [("before", before), ("after", after)]:
    t = traces[name] = wb.trace_packet(d.ruleset, wb.Packet("10.10.10.10", node_ip, "tcp", dport=80, in_iface="eth0"),
                                       node_ips=d.node_ips, routes=d.text("network/ip-route.txt"))
    chains = [s.chain for s in t.branches[0].steps if s.chain.startswith("CNI-DN-") and s.matched]
    rows.append({"dump": name, "DNAT to": ", ".join(map(str, t.destinations)), "via": chains[-1] if chains else None,
                 "routing": routing(t), "verdict": ", ".join(t.verdicts)})
where = pd.DataFrame(rows)
tidy(where)

# %%
check_prediction("4.a 재시작 뒤의 80 포트", prediction, outcome=", ".join(traces["after"].verdicts),
                 why="오래된 항목이 예전 파드 주소로 DNAT하는데, 그 주소에 남은 경로는 블록 전체에 대한 Calico의 "
                     "blackhole뿐입니다. 커널은 PREROUTING 직후에 패킷을 버립니다.",
                 common={"ACCEPT": "버리는 규칙은 없고 정책도 모두 ACCEPT인 것은 맞습니다. 하지만 PREROUTING 다음엔 "
                                   "라우팅이 오고, 예전 파드 주소에는 blackhole 말고는 경로가 없습니다."})

# %% [markdown]
# 전(`before`)에는 `10.42.134.75`가 인그레스 파드이고 자기 경로 `10.42.134.75 dev cali6968104dfaa`가
# 있습니다. 패킷은 파드의 veth 쪽으로 나갑니다. 재시작 뒤에는 예전 파드와 그 veth가 사라졌고, `/32`
# 경로도 함께 사라졌습니다. 아직 맞는 가장 긴 접두사는 노드의 주소 블록 전체에 대한 Calico의 경로
# `blackhole 10.42.134.64/26`입니다(Calico는 어떤 파드도 갖지 않은 블록 주소가 아무 데도 가지 않도록
# 이 경로를 넣습니다). `after` 트레이스의 판정입니다.

# %%
t = traces["after"]
print("판정:", ", ".join(t.verdicts))
last = [s for s in t.branches[0].steps if s.matched][-1]
print("마지막으로 맞은 규칙:", last.hook, last.table, last.chain, f"#{last.position}", last.action)
print("그다음:", routing(t))

# %% [markdown]
# 커널은 첫 패킷(SYN)을 PREROUTING 직후에, 규칙도 없이, 아무 답도 없이 버립니다. blackhole 경로는
# ICMP 오류를 돌려보내지 않으므로 인그레스의 클라이언트는 거절당하는 대신 **시간 초과**를 겪습니다.
# FORWARD 규칙도, filter 테이블의 카운터도 이를 보여 주지 않습니다. 오래된 `CNI-DN-…` 체인의 카운터만
# 계속 올라갑니다.

# %% [markdown]
# 그리고 **새** 파드의 항목이 썼을 주소:

# %%
new_chain = hostport_entries(after).iloc[-1]["target"]
tidy(after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")[["chain", "target_args"]])

# %% [markdown]
# ### 연습 4.4
# 참일까요, 거짓일까요? `after`에서 80 포트로 가는 새 연결은 지금 돌고 있는 파드에 닿는다.

# %%
answer = ...  # 참 또는 거짓

# %%
new_dnat = after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")["target_args"].iloc[0]
check_answer("4.4 80 포트가 새 파드에 닿나", answer,
             expected=where.iloc[1]["DNAT to"].split(":")[0] in new_dnat,
             hint="after 트레이스의 DNAT 주소와 새 파드의 DNAT 규칙을 비교해 보세요.",
             common={True: "새 파드의 항목은 있지만, 커널은 맞는 첫 항목을 씁니다. 예전 주소로 가는 오래된 항목입니다."},
             explain="예전 파드의 주소로 갑니다. 새 파드는 멀쩡해 보이는데 인그레스는 죽어 있습니다.")

# %% [markdown]
# ## 5 · 검사 결과
#
# `wb.check`는 두 문제를 모두 찾아내고 정확한 명령을 제안합니다. 명령은 절대 직접 실행하지 않습니다.
# 읽고, 판단하고, 노드에서 직접 실행하는 것은 여러분입니다. 설명은 한국어로 나오지만 명령은 그대로입니다.

# %%
findings = wb.check(after)
findings

# %% [markdown]
# 덤프에는 노드의 `conntrack -L`도 들어 있고, `conntrack-to-stale-hostport` 결과가 여기서 나옵니다. 열두 개 항목이
# `SYN_SENT`, `[UNREPLIED]` 상태로 옛 파드 주소로 DNAT되어 있습니다. 재시작 직후, 옛 파드의 veth와
# `/32` 경로가 아직 남아 있던 동안 걸려든 클라이언트들입니다(그 뒤로는 위의 트레이스처럼 블랙홀 경로가
# conntrack이 기록하기 전에 새 SYN을 버립니다. 데이터셋 README 참고). 이 결과의 `conntrack -D` 줄은
# 응답 출발지로 옛 파드를 지정하므로, 새 파드로 가는 kubelet 프로브 항목 두 개는 건드리지 않습니다.

# %%
tidy(after.conntrack[["state", "orig_src", "orig_dst", "orig_dport", "reply_src", "reply_sport", "flags"]])

# %% [markdown]
# ### 연습 4.5
# 중복된 점프를 **규칙 번호**로 지운다면(원래 규칙의 카운터가 남습니다) `iptables -t nat -D PREROUTING <번호>`에
# 어떤 번호를 줄까요?

# %%
answer = ...  # 숫자

# %%
jumps = pre[pre["target"] == "CNI-HOSTPORT-DNAT"]["position"].tolist()
check_answer("4.5 지울 번호", answer, expected=int(jumps[-1]),
             hint="첫 점프는 남기고(카운터가 있습니다) 뒤의 것을 지우세요.",
             common={4: "4번은 카운터가 있는 원래 규칙입니다. 사본은 그 뒤에 옵니다.",
                     5: "5는 원문 목록에서 사본의 번호였습니다. 이 덤프의 PREROUTING에는 다른 규칙도 있으니 "
                        "`pre`에서 번호를 찾아보세요."},
             explain="번호로 지울 때는 큰 번호부터 지워야 위쪽 번호가 바뀌지 않습니다.")

# %% [markdown]
# 두 덤프 사이에 바뀐 모든 것을 규칙 단위로 봅니다(카운터 제외). Calico와 kube-proxy는 파드를 따라
# 새 주소로 옮겨 갔고, portmap은 덧붙이기만 하고 지우는 것은 잊었습니다.

# %%
changes = wb.diff_rulesets(before.ruleset, after.ruleset).frame
print(f"바뀐 것 {len(changes)}개, 그중 nat:")
tidy(changes.query("table == 'nat'")[["change", "chain", "spec"]])

# %% [markdown]
# ### 직접 망가뜨려 보기: 중복 점프 넣기
#
# 멀쩡한 `before` 규칙의 **사본**을 만들고, portmap이 그랬듯 두 번째
# `-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`를 덧붙입니다. 그리고 검사와 트레이스가
# 어떻게 바뀌는지 봅니다.

# %%
lines = before.ruleset.to_save().splitlines()
jump = next(ln for ln in lines if ln.startswith("-A PREROUTING") and ln.endswith("-j CNI-HOSTPORT-DNAT"))
last_pre = max(i for i, ln in enumerate(lines) if ln.startswith("-A PREROUTING"))
doubled = wb.parse("\n".join(lines[:last_pre + 1] + [jump] + lines[last_pre + 1:]) + "\n")
print("PREROUTING 끝에 덧붙임:", jump)
print("결과 수: 원래", len(wb.check(before.ruleset)), "→ 사본을 넣은 뒤", len(wb.check(doubled)))
wb.check(doubled)

# %% [markdown]
# ### 예측 4.b
# 이 사본에서 클라이언트가 어떤 hostPort도 맡지 않은 노드의 **22** 포트로 접속합니다. 트레이스를 실행하기
# 전에: 첫 패킷은 `CNI-HOSTPORT-DNAT`로 몇 번 점프할까요?

# %%
prediction = ...  # 숫자

# %%
def jumps_into_hostport(rs, port):
    t = wb.trace_packet(rs, wb.Packet("10.10.10.10", node_ip, "tcp", dport=port, in_iface="eth0"),
                        node_ips=before.node_ips, routes=before.text("network/ip-route.txt"))
    steps = t.branches[0].steps
    return sum(1 for s in steps if s.matched and s.action == "JUMP:CNI-HOSTPORT-DNAT"), t

rows = []
for port in (22, 80):
    for name, rs in [("원래 규칙", before.ruleset), ("사본을 넣은 규칙", doubled)]:
        n, t = jumps_into_hostport(rs, port)
        rows.append({"포트": port, "규칙": name, "CNI-HOSTPORT-DNAT로 점프한 횟수": n,
                     "DNAT 목적지": ", ".join(d or "(없음)" for d in t.destinations)})
tidy(pd.DataFrame(rows))

# %%
check_prediction("4.b 22 포트의 순회 수", prediction, outcome=jumps_into_hostport(doubled, 22)[0],
                 why="CNI-HOSTPORT-DNAT 안에 22 포트에 맞는 항목이 없으니 패킷은 돌아와서 사본을 만나고, 체인을 "
                     "한 번 더 걷습니다. 80 포트는 첫 순회에서 이미 DNAT되고, DNAT는 nat PREROUTING을 끝내므로 "
                     "사본에 닿지 않습니다. 사본의 비용은 두 번째 순회이고, 장애의 진짜 피해는 체인 안의 오래된 "
                     "항목입니다.",
                 common={1: "첫 순회는 22 포트 항목을 찾지 못하고 PREROUTING으로 돌아오는데, 그다음 규칙이 바로 "
                            "사본입니다."})

# %% [markdown]
# 첫 파드 시작부터 해결까지, 장애를 한 단계씩 되짚어 봅니다.

# %%
from workbook.view.widgets import HostportLab
HostportLab()

# %% [markdown]
# ## 6 · 해결
#
# 원문의 해결책: "쿠버네티스 버전 1.24 이상에서는 없는 이슈임 ( 1.23에서 1.24로 올릴때만 주의)",
# "kubelet의 /var/lib/dockershim 경로를 VM에 매핑시켜주면 해결됨".
#
# **막기**: 체크포인트 폴더를 kubelet 컨테이너에 bind-mount해서, 컨테이너가 다시 만들어져도 체크포인트가
# 살아남게 합니다. RKE의 `cluster.yml`에서(원문의 해결책. `:z`는 SELinux 호스트에서 폴더 라벨을 다시
# 붙입니다. cri-dockerd를 쓰는 1.24+에서는 RKE v1.3.13 이상이 `/var/lib/cri-dockerd`를 스스로 마운트합니다):
#
# ```yaml
# services:
#   kubelet:
#     extra_binds:
#       - "/var/lib/dockershim:/var/lib/dockershim:z"
# ```
#
# **치우기**: 이미 새어 나온 것은 한 번 직접 치웁니다. 중복 점프, 오래된 항목과 그 체인입니다(또는 노드를
# 재부팅하면 모든 규칙이 처음부터 다시 만들어집니다). 원문도 같은 말을 합니다: "1.23.6에서 중복이 발생한
# 규칙을 없애기 위해서는 iptables 명령어를 통해 해당 규칙을 제거하거나 노드 재기동하여 flush".
#
# ```bash
# iptables -t nat -L PREROUTING -n --line-numbers    # 사본의 번호 찾기
# iptables -t nat -D PREROUTING <번호>                # OUTPUT도 똑같이
# iptables -t nat -L CNI-HOSTPORT-DNAT -n --line-numbers
# iptables -t nat -D CNI-HOSTPORT-DNAT <오래된 항목의 번호>
# iptables -t nat -F CNI-DN-<그 해시>; iptables -t nat -X CNI-DN-<그 해시>
# ```

# %% [markdown]
# ### 연습 4.6
# 참일까요, 거짓일까요? `extra_binds`를 넣고 kubelet을 다시 만들면, 이미 있던 오래된 항목은 저절로 사라진다.

# %%
answer = ...  # 참 또는 거짓

# %%
check_answer("4.6 bind mount가 치워 주나", answer, expected=False,
             hint="bind mount는 앞으로의 체크포인트를 지켜 줍니다. 이미 있는 규칙은 누가 지울까요?",
             explain="예전 항목은 직접 지우거나 노드를 재부팅할 때까지 남습니다.")

# %% [markdown]
# 다음: [05 · Istio와 빠진 모듈](05-istio-iptables-modules.ipynb).
