# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · 테이블과 체인
#
# 훅이 발동하면 그 훅에 등록된 테이블이 돌고, 커널은 각 테이블 안에서 **체인**, 즉 순서가 있는 규칙
# 목록을 따라갑니다. 원문의 말로는 "후크에 있는 트리거가 발동되면 해당 커널 netfilter hook에 있던
# 모듈이 실행 됩니다." 이 노트북은 원문의 EKS 워커 노드에서 뜬 진짜 `iptables -t filter -S` 출력을
# 읽습니다.

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ## 1 · `iptables -S`에 나오는 세 종류의 줄
#
# * `-P CHAIN VERDICT`: **기본(built-in)** 체인(훅 이름을 딴 체인)과 그 **정책**. 어떤 규칙도 결정하지
#   않았을 때의 판정입니다.
# * `-N CHAIN`: **사용자 정의** 체인. 어떤 규칙이 그리로 점프할 때만 실행됩니다.
# * `-A CHAIN …`: 체인 끝에 덧붙인 **규칙**. 매치(`-p udp`, `-m conntrack --ctstate NEW`)와
#   타깃(`-j …`)으로 이루어집니다.
#
# 다음은 EKS 노드의 filter 테이블입니다(원문 인용).

# %%
filter_s = r"""
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N KUBE-EXTERNAL-SERVICES
-N KUBE-FIREWALL
-N KUBE-FORWARD
-N KUBE-KUBELET-CANARY
-N KUBE-NODEPORTS
-N KUBE-PROXY-CANARY
-N KUBE-PROXY-FIREWALL
-N KUBE-SERVICES
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A INPUT -p udp -m udp --dport 9999 -m limit --limit 5/min -j LOG --log-prefix "UDP_DROP: "
-A INPUT -p udp -m udp --dport 9999 -j DROP
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
"""

# %%
flt = wb.parse(filter_s)
flt

# %% [markdown]
# 그림으로 보면 상자 하나가 체인 하나이고, 화살표는 다른 체인으로 점프하는 규칙입니다. 기본 체인이
# 입구이고, 사용자 체인은 그 아래에 매달려 있습니다.

# %%
wb.draw_chains(flt, "filter")

# %% [markdown]
# 같은 체인을 표로 봅니다. 정책, 체인마다 규칙 수, 그 체인으로 점프하는 규칙 수(references)입니다.

# %%
tidy(flt.chains[["chain", "builtin", "policy", "rules", "references"]])

# %% [markdown]
# ### 연습 2.1
# 이 filter 테이블에 **사용자 정의** 체인은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("2.1 사용자 정의 체인 수", answer,
             expected=int((~flt.chains["builtin"]).sum()),
             hint="-N 줄을 세거나, flt.chains에서 builtin이 False인 행을 세어 보세요.",
             common={11: "기본 체인 INPUT, FORWARD, OUTPUT까지 센 것입니다. 그들은 -N이 아니라 -P 줄에서 옵니다.",
                     3: "그 셋은 기본 체인(-P 줄)입니다. 사용자 정의 체인은 -N으로 선언합니다."},
             explain="여덟 개 모두 kube-proxy나 kubelet의 것입니다(KUBE-…).")

# %% [markdown]
# ### 연습 2.2
# 선언은 되어 있지만 **아무도 점프하지 않고** 규칙도 없는 사용자 체인이 둘 있습니다. 어느 것일까요?
# (이들은 *카나리*입니다. kubelet과 kube-proxy가 만들어 두고 가끔 아직 있는지 확인합니다. 하나가
# 사라졌다면 누군가 테이블을 flush한 것이니, 자기 규칙을 다시 씁니다.)

# %%
answer = ...  # 체인 이름 두 개의 리스트

# %%
c = flt.chains
check_answer("2.2 카나리 체인", answer,
             expected=c[~c["builtin"] & (c["references"] == 0) & (c["rules"] == 0)]["chain"].tolist(),
             hint="flt.chains에서 builtin이 False이고 references가 0, rules가 0인 행입니다.",
             common={("KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL"): "둘 다 규칙은 없지만 INPUT과 FORWARD가 "
                     "그리로 점프합니다(references 열을 보세요)."})

# %% [markdown]
# ## 2 · 규칙 하나 뜯어보기
#
# 원문의 노드에는 INPUT에 손으로 쓴 규칙이 둘 있었습니다. UDP 9999 포트를 1분에 다섯 번까지만
# 로그로 남기고, 그다음 버립니다. 규칙은 모두 같은 열을 가진 한 행이 됩니다.

# %%
rules = flt.rules
tidy(rules[rules["chain"] == "INPUT"][["position", "protocol", "target", "target_args", "comment", "spec"]])

# %% [markdown]
# 매치는 순서대로, 모듈과 옵션(`-m limit --limit 5/min`)을 함께 보관합니다.

# %%
log_rule = flt.chain("filter", "INPUT").rules[4]
print(log_rule.spec)
pd.DataFrame([{"매치 모듈": m.module, "옵션": o.flag, "값": " ".join(o.args)}
              for m in log_rule.matches for o in m.options])

# %% [markdown]
# ### 연습 2.3
# `LOG`는 패킷을 멈추지 않습니다. 커널 로그에 한 줄을 쓰고 패킷은 다음 규칙으로 넘어갑니다.
# 9999 포트로 가는 UDP 패킷은 INPUT의 **몇 번째 규칙**에서 결국 버려질까요?

# %%
answer = ...  # 숫자

# %%
inp = rules[(rules["chain"] == "INPUT")]
check_answer("2.3 9999가 버려지는 곳", answer,
             expected=int(inp[inp["target"] == "DROP"]["position"].iloc[0]),
             hint="위치는 `iptables -L --line-numbers`처럼 1부터 셉니다.",
             common={5: "5번은 LOG 규칙입니다. 로그를 한 줄 쓰고 패킷은 다음 규칙으로 갑니다."})

# %% [markdown]
# ## 3 · 트레이서에게 체인을 걷게 하기
#
# 트레이서는 커널이 하듯 패킷을 모든 규칙과 점프를 따라 보냅니다. 밖에서 9999 포트로 들어오는 UDP
# 패킷입니다.
#
# ### 예측 2.a
# INPUT의 네 번째 규칙은 `-A INPUT -j KUBE-FIREWALL`이고, KUBE-FIREWALL의 유일한 규칙은 *127.0.0.0/8로
# 가는* 패킷을 버립니다. 트레이스를 실행하기 전에: 이 패킷(`192.168.3.215`로 감)이 KUBE-FIREWALL에 들어가기는
# 할까요? 참 또는 거짓으로 답하세요.

# %%
prediction = ...  # 참 또는 거짓

# %%
t = wb.trace_packet(flt, wb.Packet("203.0.113.5", "192.168.3.215", "udp", dport=9999), node_ips=["192.168.3.215"])
t

# %% [markdown]
# 모든 단계를 표로 봅니다(✘ 행은 매치되지 않은 규칙이고, `why`가 어느 매치에서 떨어졌는지 말합니다).

# %%
tidy(t.steps[["hook", "table", "chain", "position", "matched", "action", "why"]])

# %%
check_prediction("2.a KUBE-FIREWALL로 들어가나", prediction,
                 outcome=any(s.chain == "KUBE-FIREWALL" for s in t.branches[0].steps),
                 why="점프 규칙 자체에는 매치가 없으니 모든 패킷이 들어갑니다. 127.0.0.0/8 검사는 안에 있는 "
                     "DROP 규칙이 하고, 그 규칙이 맞지 않을 뿐입니다.",
                 common={False: "매치 없는 점프는 모든 패킷이 탑니다. 맞지 않는 것은 KUBE-FIREWALL *안의* "
                                "DROP 규칙입니다."})

# %% [markdown]
# ### 연습 2.4
# 이 패킷의 최종 판정은?

# %%
answer = ...  # ACCEPT 또는 DROP

# %%
check_answer("2.4 udp/9999의 판정", answer, expected=next(iter(t.verdicts)),
             hint="트레이스에서 마지막으로 매치된 단계를 보세요.",
             common={"LOG": "LOG는 판정이 아닙니다. 기록만 하고 패킷은 다음 규칙으로 갑니다.",
                     "ACCEPT": "ACCEPT는 정책입니다. 어떤 규칙도 결정하지 않을 때만 쓰이는데, 6번 규칙이 먼저 결정합니다."})

# %% [markdown]
# ## 4 · 한 테이블, 세 가지 표기
#
# `iptables -S`는 손으로 칠 때와 같은 모양으로 규칙을 출력합니다. `iptables-save`는 테이블 머리줄,
# `:CHAIN POLICY [packets:bytes]` 줄, `COMMIT`을 더합니다. `iptables -L -n -v`는 사람이 읽기 좋은 넓은
# 표입니다. workbook은 셋 모두를 같은 모델로 읽고, save 형식으로 다시 쓸 수도 있습니다.

# %%
print(flt.to_save())

# %% [markdown]
# ### 연습 2.5
# save 형식에서 체인 줄은 `:NAME POLICY [packets:bytes]`입니다. **사용자 정의** 체인은 정책 자리에
# 무엇을 보여 줄까요?

# %%
answer = ...  # 글자 하나

# %%
user_line = next(l for l in flt.to_save().splitlines() if l.startswith(":KUBE-FIREWALL "))
check_answer("2.5 사용자 체인의 정책", answer, expected=user_line.split()[1],
             hint=":KUBE-FIREWALL로 시작하는 줄을 찾아보세요.",
             common={"ACCEPT": "ACCEPT는 기본 체인이 보여 주는 것입니다. 사용자 체인에는 정책이 아예 없습니다.",
                     "RETURN": "끝에 다다르면 RETURN이 일어나는 것은 맞지만, save 형식은 글자 하나만 씁니다."},
             explain="사용자 체인에는 정책이 없습니다. 규칙이 다 떨어지면 패킷은 부른 쪽으로 돌아갑니다.")

# %% [markdown]
# `datasets/eks-node`의 노드 덤프는 이 filter 테이블을 `iptables -S`로 **그리고**
# `iptables -L -n -v -x --line-numbers`로도 남겼습니다. 둘을 읽어 규칙 하나하나 비교해 봅니다.

# %%
eks = wb.load_dump(DATASETS / "eks-node")
listing_text = eks.text("iptables/iptables-L-filter.txt")
print("\n".join(listing_text.splitlines()[:8]))
as_L = wb.parse(listing_text, format="listing")
as_S = wb.parse(eks.text("iptables/iptables-S-filter.txt"), format="spec")
print("같은 규칙, 같은 순서:", "예" if [r.spec for r in as_L.iter_rules()] == [r.spec for r in as_S.iter_rules()] else "아니오")

# %% [markdown]
# ### 연습 2.6
# 이 목록에서 9999 포트 규칙 두 개의 `prot` 열은 `udp`가 아니라 숫자입니다. iptables 1.8.9와
# 1.8.10은 여기에 프로토콜 번호를 찍습니다(다른 버전에서 뜬 원문의 목록은 `udp`와 `all`을 찍습니다).
# UDP는 몇 번일까요?

# %%
answer = ...  # 숫자

# %%
drop_line = next(l for l in listing_text.splitlines() if " DROP " in l and "dpt:9999" in l)
check_answer("2.6 udp의 번호", answer, expected=int(drop_line.split()[4]),
             hint="DROP 줄의 prot 열을 읽으세요(num, pkts, bytes, target, prot, … 순서).",
             common={6: "6은 tcp입니다. 9999 규칙은 -p udp에 맞습니다.", 9999: "9999는 포트이지 프로토콜이 아닙니다."},
             explain="6은 tcp, 17은 udp, 0은 전부(all)입니다. /etc/protocols의 번호입니다.")

# %% [markdown]
# 다음: [03 · 서비스 DNAT 경로](03-service-dnat-path.ipynb).
