# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Istio: `unable to initialize table 'nat'`
#
# 원문이 정리한 첫 번째 "Known 이슈사항"입니다: "istio 설치시 워커노드에 iptable 모듈이 없는 경우 발생"
# (업스트림: istio/istio#44118). Istio 사이드카가 붙은 파드가 뜨지 않습니다. `istio-init` 컨테이너가
# 계속 이렇게 실패하기 때문입니다.
#
# ```
# xtables parameter problem: iptables-restore: unable to initialize table 'nat'
# ```

# %%
# 준비: workbook 라이브러리, pandas, 자가 점검들, 예제 데이터셋 폴더, 그리고 한국어
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()
wb.set_language("ko")

# %% [markdown]
# ### 배경: 한 커널 안의 두 iptables
#
# 원문은 "iptable과 nf_table의 차이점"을 짚고 넘어갑니다. `iptables`는 명령어일 뿐이고, 그 뒤에는 서로
# 다른 커널 하위 시스템 둘 중 하나가 있습니다.
#
# * **legacy**(`iptables-legacy`): x_tables 하위 시스템. 테이블마다 커널 모듈이 하나씩입니다:
#   `ip_tables`, `iptable_nat`, `iptable_filter`, `iptable_mangle`, `iptable_raw`.
# * **nf_tables**(`iptables-nft`): 같은 명령을 nftables로 옮겨 실행합니다. `nf_tables`, `nft_chain_nat`,
#   그리고 예전 `xt_*` 매치를 돌려 주는 `nft_compat`이 맡습니다.
#
# 호스트와 컨테이너의 생각이 다를 수 있습니다. `istio-init`은 **자기 이미지의** `iptables-restore`를
# 실행하는데, 이 이슈의 Istio 버전에서는 그것이 legacy였으므로 legacy `iptable_nat` 모듈이 필요했습니다.
# iptables-nft만 써 온 호스트는 이 모듈을 로드한 적이 없고, init 컨테이너는 커널 모듈을 스스로 로드할 수
# 없습니다.

# %%
import graphviz
HANGUL = "Noto Sans CJK KR"   # 한글이 있는 글꼴 (fonts-noto-cjk)
g = graphviz.Digraph(graph_attr={"rankdir": "LR"},
                     node_attr={"shape": "box", "style": "rounded", "fontname": HANGUL},
                     edge_attr={"fontname": HANGUL})
g.node("host", "호스트의 도구\niptables v1.8 (nf_tables)")
g.node("init", "istio-init 컨테이너\niptables-restore (legacy)")
g.node("nft", "nf_tables\nnft_chain_nat, nft_compat", style="rounded,filled", fillcolor="#e6f4ea")
g.node("xt", "x_tables\nip_tables, iptable_nat", style="rounded,filled,dashed", fillcolor="#fdecea")
g.edge("host", "nft", label="로드됨")
g.edge("init", "xt", label="필요: 로드 안 됨!", color="#c5221f", fontcolor="#c5221f")
g

# %% [markdown]
# ## 1 · 노드의 모듈 읽기
#
# 고치기 전 EKS 워커에서 원문이 뜬 `lsmod`입니다(원문 인용. 원문에 나온 줄들입니다).

# %%
lsmod_before = r"""
Module                  Size  Used by
nft_chain_nat          16384  7
nf_nat                 57344  3 xt_nat,nft_chain_nat,xt_MASQUERADE
nfnetlink_acct         16384  4 xt_nfacct
xt_conntrack           16384  19
nf_conntrack          184320  7 xt_conntrack,nf_nat,xt_state,xt_nat,nf_conntrack_netlink,xt_connmark,xt_MASQUERADE
nf_defrag_ipv6         24576  1 nf_conntrack
nf_defrag_ipv4         16384  1 nf_conntrack
xt_comment             16384  96
nft_compat             20480  169
nf_tables             311296  354 nft_compat,nft_chain_nat,nft_limit
nfnetlink              20480  8 nft_compat,nfnetlink_acct,nf_conntrack_netlink,nf_tables
"""

mods = wb.parse(lsmod_before, format="lsmod")
tidy(mods.frame)

# %% [markdown]
# `Used by`는 누가 그 모듈을 잡고 있는지 알려 줍니다. `nf_tables`를 354곳, `nft_compat`을 169곳에서 쓰고
# 있습니다. 이 호스트의 규칙은 nf_tables에 있습니다.

# %%
from workbook.checks.modules import ISTIO_MODULES, LEGACY_TABLE_MODULES

pd.DataFrame({"모듈": [*LEGACY_TABLE_MODULES, "nf_tables", "nft_compat"],
              "로드됨": ["예" if m in mods else "아니오" for m in [*LEGACY_TABLE_MODULES, "nf_tables", "nft_compat"]]})

# %% [markdown]
# ### 연습 5.1
# legacy 테이블 모듈 넷(`iptable_nat`, `iptable_mangle`, `iptable_filter`, `iptable_raw`) 중 이 lsmod에
# **빠진** 것은? 리스트로 답하세요.

# %%
answer = ...  # 모듈 이름의 리스트

# %%
check_answer("5.1 빠진 legacy 테이블", answer, expected=[m for m in LEGACY_TABLE_MODULES if m not in mods],
             hint="하나씩 `name in mods`로 확인해 보세요.",
             common={("iptable_nat",): "istio-init의 오류가 이름을 대는 것은 iptable_nat이지만, 나머지 셋도 보세요. "
                                       "legacy 테이블 모듈은 하나도 로드되어 있지 않습니다."})

# %% [markdown]
# ## 2 · 해결: 부팅할 때마다 모듈 로드하기
#
# `systemd-modules-load`는 부팅할 때 `/etc/modules-load.d/*.conf`를 읽어 거기 적힌 모듈을 모두 로드합니다.
# 원문은 파일 하나를 쓰고("모듈 설치 /etc/modules-load.d"), 재부팅하지 않아도 되게 모듈을 손으로 한 번
# 로드합니다.
#
# ```bash
# cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'
# iptable_nat
# iptable_mangle
# iptable_filter
# iptable_raw
# EOF
# for m in iptable_nat iptable_mangle iptable_filter iptable_raw; do modprobe $m; done
# ```
#
# Istio 이슈의 해결책은 istio-init의 규칙이 쓰는 매치와 타깃의 모듈, `xt_REDIRECT`(`-j REDIRECT`)와
# `xt_owner`(`-m owner`)를 더합니다. (다른 길은 Istio CNI입니다. 호스트의 iptables를 쓰는 노드 에이전트가
# 규칙을 씁니다.) 4절의 검사는 라이브러리의 목록 하나에서 정확히 이것들을 찾습니다.

# %%
print("테이블 모듈 (원문의 .conf 파일):   ", ", ".join(LEGACY_TABLE_MODULES))
print("istio-init의 매치가 쓰는 모듈:     ", ", ".join(ISTIO_MODULES))

# %% [markdown]
# 그리고 그 뒤의 `lsmod`입니다(원문 인용, "모듈 확인". 새로 생긴 줄이 보입니다).

# %%
lsmod_after = r"""
Module                  Size  Used by
iptable_raw            16384  0
iptable_filter         16384  0
iptable_mangle         16384  0
iptable_nat            16384  0
"""

mods_after = wb.parse(lsmod_after, format="lsmod")
tidy(mods_after.frame)

# %% [markdown]
# ### 연습 5.2
# `modprobe` 직후에는 아직 아무도 새 모듈을 쓰지 않습니다. 두 번째 lsmod에서 `iptable_nat`의
# `used_by_count`는?

# %%
answer = ...  # 숫자

# %%
used = mods_after.frame.set_index("module")["used_by_count"]
check_answer("5.2 iptable_nat 사용자 수", answer, expected=int(used["iptable_nat"]),
             hint="`Used by` 열이나 mods_after.frame을 보세요.",
             common={16384: "16384는 모듈 크기(바이트)입니다. `Used by`는 그다음 열입니다."},
             explain="istio-init이 legacy 백엔드로 nat 규칙을 만들면 이 숫자가 올라갑니다.")

# %% [markdown]
# ## 3 · 같은 노드, 두 덤프
#
# `datasets/istio-missing-modules`에는 고치기 전과 후의 EKS 워커가 있습니다. 먼저 실패한 파드가 한 말입니다
# (`kubectl logs <pod> -c istio-init`, 덤프의 notes에 보관).

# %%
from workbook.lessons.lesson import Folded

broken = wb.load_dump(DATASETS / "istio-missing-modules" / "before")
fixed = wb.load_dump(DATASETS / "istio-missing-modules" / "after")
Folded(broken.text("notes/istio-init-error.txt"), "unable to initialize table", summary="istio-init 로그 전체")

# %% [markdown]
# 덤프에는 호스트의 규칙이 도구별로 담겨 있습니다. `iptables`(노드의 기본 바이너리, 여기서는
# iptables-nft), `iptables-legacy`, 그리고 같은 규칙을 `-L`과 `-S` 표기로 한 번 더. 각각 규칙 수를 셉니다.

# %%
pd.DataFrame({"보여 준 도구": list(broken.rulesets), "규칙 수": [len(r) for r in broken.rulesets.values()]})

# %% [markdown]
# ### 연습 5.3
# 이 노드 자신의 규칙은 어느 백엔드에 있을까요: `nft`, 아니면 `legacy`?

# %%
answer = ...  # "nft" 또는 "legacy"

# %%
counts = {name: len(r) for name, r in broken.rulesets.items()}
legacy = sum(n for name, n in counts.items() if "legacy" in name)
check_answer("5.3 호스트 백엔드", answer, expected="legacy" if legacy > 0 else "nft",
             hint="이 노드에서 iptables-legacy-save는 아무것도 보여 주지 않습니다.",
             common={"legacy": "istio-init은 legacy를 원했지만, 호스트 자신의 규칙은 모두 nft 쪽에 있습니다. "
                               "iptables-legacy는 규칙 0개를 보여 줍니다."},
             explain="kubelet도 힌트를 남깁니다. KUBE-IPTABLES-HINT 체인이 nft의 mangle 테이블에 있습니다.")

# %% [markdown]
# 해결이 커널의 모듈 목록에서 바꾼 것입니다(규칙은 전혀 바뀌지 않았습니다).

# %%
added = sorted(fixed.modules.names - broken.modules.names)
print("해결로 로드된 모듈:", ", ".join(added))

# %% [markdown]
# ### 연습 5.4
# `after` lsmod에는 있고 `before`에는 없는 모듈은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("5.4 해결로 늘어난 모듈", answer, expected=len(added),
             hint="넷은 손으로 로드했고, 하나는 그 의존성으로 따라왔습니다.",
             common={4: ".conf 파일에 적힌 것은 넷이지만, 커널은 그들이 의존하는 모듈 하나를 더 로드했습니다."},
             explain="legacy의 핵심인 ip_tables가 iptable_* 모듈의 의존성으로 로드됩니다.")

# %% [markdown]
# 모듈이 생기자 istio-init이 성공했습니다. 그 규칙은 호스트가 아니라 **파드의** 네트워크 네임스페이스에
# 있고, 덤프가 보관해 두었습니다(파드 안의 `iptables-legacy-save`). 나가는 TCP 연결은 모두 15001 포트의
# 사이드카로, 들어오는 연결은 모두 15006으로 돌려집니다.

# %%
pod = wb.parse(fixed.text("notes/istio-init-pod-iptables-legacy-save.txt"))
wb.draw_chains(pod, "nat")

# %% [markdown]
# ## 4 · 검사에게 찾게 하기
#
# 검사는 모듈을 노드의 도구가 필요로 하는 것과 비교하고, 해결책을 한국어로 설명합니다(명령은 그대로).

# %%
broken_findings = wb.check(broken)
broken_findings

# %%
fixed_findings = wb.check(fixed)
fixed_findings

# %% [markdown]
# ### 연습 5.5
# 고친 뒤 남은 결과(finding)는 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
check_answer("5.5 고친 뒤의 결과 수", answer, expected=len(fixed_findings),
             hint="len(fixed_findings)",
             common={1: "1은 고치기 전이었습니다. 두 번째 표가 고친 노드의 것입니다."})

# %% [markdown]
# ### 직접 망가뜨려 보기: 모듈 하나 내리기
#
# 고친 노드에서 누군가 `modprobe -r iptable_nat`을 실행합니다(또는 `.conf` 파일을 넣기 전에 재부팅이
# 일어납니다). 고친 노드의 `lsmod`에서 `iptable_nat`을 빼고, 그 모듈 목록으로 노드를 다시 검사합니다
# (어디서도 모듈을 내리지 않습니다. `modules=`는 이번 검사에서만 덤프의 목록을 바꿔 끼웁니다).
#
# ### 예측 5.a
# 검사를 실행하기 전에: 결과(finding)는 몇 개 나올까요?

# %%
prediction = ...  # 숫자

# %%
lsmod_fixed = fixed.text("kernel/lsmod.txt")
unloaded = "\n".join(ln for ln in lsmod_fixed.splitlines() if not ln.startswith("iptable_nat ")) + "\n"
again = wb.check(fixed, modules=unloaded)
again

# %%
check_prediction("5.a iptable_nat 없이 나온 결과 수", prediction, outcome=len(again),
                 why="모듈 하나면 결과가 돌아오기에 충분합니다. istio-init의 `iptables-restore`는 nat 테이블부터 "
                     "요청하고, 위 로그에서처럼 거기서 실패합니다.",
                 common={0: "나머지 테이블 모듈 셋은 그대로지만, istio-init이 가장 먼저 필요로 하는 것이 nat "
                            "테이블입니다."})

# %% [markdown]
# ## 5 · 내 노드 점검하기
#
# 아래 점검기는 원문의 lsmod로 시작합니다. 여러분 노드의 `lsmod` 출력으로 바꾸고 **Check**를 누르세요.

# %%
from workbook.view.widgets import ModuleChecker
ModuleChecker(lsmod_before)

# %% [markdown]
# ### 연습 5.6
# 점검기의 내용을 원문의 두 번째 lsmod로 바꾸고(`print(lsmod_after)`로 찍을 수 있습니다) **Check**를
# 누르세요. 이제 빠졌다고 보고하는 모듈은 몇 개일까요?

# %%
answer = ...  # 숫자

# %%
from workbook.view.widgets import missing_modules
check_answer("5.6 고친 뒤 빠진 모듈", answer, expected=len(missing_modules(lsmod_after)),
             hint="두 번째 lsmod에는 iptable_* 모듈 넷이 있습니다.",
             common={4: "4는 첫 번째 lsmod에서 빠진 수였습니다. 두 번째 것을 붙여 넣으세요."})

# %% [markdown]
# 다음: [06 · 노드 덤프 포렌식](06-forensics-of-a-node-dump.ipynb).
