"""The one-way trunk, read from `recfast/`'s source with `ast` (nothing is imported): no import cycle, no shared module
naming a family (in an import or in a string such as `'recfast.collab.learner:dot_learner'`), no family importing
another, and no family importing the layer above the families (the registry, the CLI, `recfast.all`, and the modules
that build learners through the registry: `recfast.safe`, `recfast.tune`)."""
import ast
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent/'recfast'
FAMILIES = ('collab', 'implicit', 'sequence', 'autoencoder', 'ram')
ABOVE = {'recfast', 'recfast.all', 'recfast.cli', 'recfast.compat', 'recfast.registry',  # may name every family
         'recfast.safe', 'recfast.tune'}  # build learners through the registry

def _modules(root=ROOT)->dict:
    "`{module name: path}` of every module under `root` but nbdev's index"
    res = {}
    for p in root.rglob('*.py'):
        if p.name=='_modidx.py': continue
        parts = p.relative_to(root.parent).with_suffix('').parts
        res['.'.join(parts[:-1] if parts[-1]=='__init__' else parts)] = p
    return res

def _target(mod:str, node)->list:
    "The recfast modules an import node names, absolute"
    if isinstance(node, ast.Import): return [a.name for a in node.names]
    if node.level==0: base = node.module or ''
    else:
        pkg = mod.split('.') if _is_pkg(mod) else mod.split('.')[:-1]
        base = '.'.join(pkg[:len(pkg)-node.level+1] + ([node.module] if node.module else []))
    return [base] + [f'{base}.{a.name}' for a in node.names]

def _is_pkg(mod:str)->bool: return (ROOT.parent/mod.replace('.', '/')/'__init__.py').exists()

def edges(mods:dict)->dict:
    "`{module: {recfast modules it imports or names in a string}}`"
    res = {}
    for m,p in mods.items():
        out = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)): names = _target(m, node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith('recfast.'):
                names = [node.value.split(':')[0]]
            else: continue
            out |= {n for n in names if n in mods and n!=m}
        res[m] = out
    return res

def family(m:str): return next((f for f in FAMILIES if m==f'recfast.{f}' or m.startswith(f'recfast.{f}.')), None)

def cycles(g:dict)->list:
    "Strongly connected components of more than one module (Tarjan)"
    idx,low,st,on,res,n = {},{},[],set(),[],[0]
    def visit(v):
        idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in idx: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v]==idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w==v: break
            if len(comp)>1: res.append(sorted(comp))
    for v in g:
        if v not in idx: visit(v)
    return res

def wrong_way(g:dict)->list:
    "`(importer, imported)` pairs that point the wrong way"
    bad = []
    for m,out in g.items():
        if m in ABOVE: continue
        for o in out:
            if family(o) and family(o)!=family(m): bad.append((m, o))  # shared -> family, or family -> family
            elif o in ABOVE and o!='recfast': bad.append((m, o))  # anything below -> the layer above the families
    return sorted(bad)

@pytest.fixture(scope='module')
def graph(): return edges(_modules())

def test_sees_every_module(graph):
    assert {'recfast.core', 'recfast.recommender', 'recfast.registry', 'recfast.collab.learner', 'recfast.ram.models'} \
        <= set(graph)
    assert 'recfast.core' in graph['recfast.collab.data']
    assert {family(m) for m in graph['recfast.registry']} >= set(FAMILIES)  # by strings ('recfast.collab', ...)

def test_no_import_cycle(graph): assert cycles(graph)==[]

def test_imports_point_one_way(graph): assert wrong_way(graph)==[]

def test_checks_can_fail():
    "The checks find a cycle, a shared module naming a family (by a string too) and a family importing another"
    g = {'recfast.core': {'recfast.fast'}, 'recfast.fast': {'recfast.core'}}
    assert cycles(g)==[['recfast.core', 'recfast.fast']]
    g = {'recfast.serving': {'recfast.sequence.data'}, 'recfast.sequence.learner': {'recfast.implicit.learner'},
         'recfast.ram.learner': {'recfast.registry'}, 'recfast.registry': {'recfast.ram.learner'}}
    assert wrong_way(g)==[('recfast.ram.learner', 'recfast.registry'), ('recfast.sequence.learner',
                          'recfast.implicit.learner'), ('recfast.serving', 'recfast.sequence.data')]
    assert cycles(g)==[['recfast.ram.learner', 'recfast.registry']]

def test_reads_strings_and_relative_imports(tmp_path):
    pkg = tmp_path/'recfast'; (pkg/'collab').mkdir(parents=True)
    for f in ('__init__.py', 'core.py', 'collab/__init__.py', 'collab/data.py'): (pkg/f).write_text('')
    (pkg/'core.py').write_text("x = 'recfast.collab.data:RatingsDataLoaders'\n")
    (pkg/'collab'/'data.py').write_text("from ..core import *\n")
    global ROOT
    old,ROOT = ROOT,pkg
    try: g = edges(_modules(pkg))
    finally: ROOT = old
    assert g['recfast.core']=={'recfast.collab.data'} and g['recfast.collab.data']=={'recfast.core'}
