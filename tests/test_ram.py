"Recurrent Attention Model (issues #5, #15): learning on real MNIST, location policy, Monte-Carlo evaluation, Fashion-MNIST, fastai integration, bad input."
import warnings
import numpy as np, pytest, torch
import fastai.callback.all # fit_one_cycle, no_bar, to_fp16, to_bf16
from fastai.callback.core import Callback
from fastai.callback.fp16 import MixedPrecision, AMPMode
from torch.amp import autocast, GradScaler
from fastai.learner import load_learner
from fastai.torch_core import set_seed
from fastai.interpret import ClassificationInterpretation
from recfast.core import *
from recfast.registry import *
from recfast.ram.data import *
from recfast.ram.models import *
from recfast.ram.reinforce import *
from recfast.ram.learner import *
from recfast.ram.interpret import *

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def digits(): return mnist_digits()

@pytest.fixture(scope='module')
def trained(digits):
    "RAM with recfast's defaults trained 3 epochs on the 8k/2k split of the 10k MNIST digits"
    dls = MNISTGlimpseDataLoaders.from_tensors(*digits, bs=64, seed=42)
    set_seed(42)
    learn = ram_learner(dls)
    with learn.no_bar(): learn.fit_one_cycle(3, 3e-3)
    return learn

def test_ram_learns(trained):
    err = trained.validate()[1]
    assert err < 0.2, err # chance is 0.9; the full protocol (bench/) gets a few percent
    assert trained.recorder.values[-1][-1] == pytest.approx(err, abs=1e-6)

def test_location_policy_depends_on_input(trained):
    _,locs,_ = glimpse_locations(trained, n=500)
    sd = locs.std(0).mean(-1)
    assert torch.equal(locs[:,0], torch.zeros_like(locs[:,0])) # first glimpse: the centre, for every image
    set_seed(42); _,locs0,_ = glimpse_locations(ram_learner(trained.dls), n=500) # the same model untrained
    sd0 = locs0.std(0).mean(-1)
    assert (sd[1:] > 2*sd0[1:].max()).all() and sd[1:].mean() > 5*sd0[1:].mean(), (sd, sd0) # later glimpses differ across images (no collapse to one place)
    assert (locs[:,1:].abs() < 0.999).float().mean() > 0.5 # and do not all sit on the border

def test_monte_carlo_evaluation(trained):
    "`n_samples` rollouts: averaged probabilities, the same at every call, about as good as the mean path"
    m = trained.model
    err1 = trained.validate()[1]
    m.n_samples = 8
    try:
        p1,_ = trained.get_preds()
        p2,targs = trained.get_preds()
        err8 = trained.validate()[1]
    finally: m.n_samples = 1
    assert torch.equal(p1, p2)
    assert torch.allclose(p1.sum(1), torch.ones(len(p1)), atol=1e-4)
    assert err8 == pytest.approx((p1.argmax(1)!=targs).float().mean().item(), abs=1e-6)
    assert err8 < err1 + 0.02, (err8, err1)
    learn = ram_learner(trained.dls, n_samples=4)
    assert learn.model.n_samples == 4
    with pytest.raises(ValueError, match='n_samples` must be a positive int'): ram_learner(trained.dls, n_samples=0)

def test_translated_policy_depends_on_input(digits):
    "Trained on translated 60x60 digits, the glimpse locations spread across images far more than at initialisation"
    x,y = digits
    dls = MNISTGlimpseDataLoaders.from_tensors(x[:3000], y[:3000], variant='translated', bs=32, seed=42)
    set_seed(42)
    learn = ram_learner(dls)
    def spread():
        xs,locs,_ = glimpse_locations(learn, n=500)
        assert torch.isfinite(ink_centres(xs)).all()
        return locs[:,1:].std(0).mean().item()
    sd0 = spread()
    with learn.no_bar(): learn.fit_one_cycle(3, 3e-3)
    sd1 = spread()
    # locations depend on the input, an order of magnitude more than at initialisation (16x with fastai 2.8.12)
    assert sd1 > 10*sd0 and sd1 > 0.05, (sd0, sd1)

def test_fashion_mnist_loaders():
    dls = MNISTGlimpseDataLoaders.from_fashion_mnist(bs=256)
    assert len(dls.train.dataset) == 60_000 and len(dls.valid.dataset) == 10_000
    assert dls.vocab[0] == 'T-shirt/top' and dls.c == 10
    xb,yb = dls.one_batch()
    assert xb.shape == (256,1,28,28) and 0 <= xb.min() and xb.max() <= 1
    learn = ram_learner(dls)
    assert learn.model.glimpse_size == 8 and learn.model.depth == 3
    with pytest.raises(FileNotFoundError, match='put the emnist idx files there'): mnist_digits(dataset='emnist')

def test_reinforce_terms_in_training_loss(digits):
    from fastai.callback.core import Callback
    class _Grab(Callback):
        order = ReinforceCallback.order+1
        def after_loss(self):
            if self.training: self.res = (self.loss.item(), self.loss_func(self.pred, *self.yb).item(),
                                          self.reinforce_loss.item(), self.baseline_loss.item())
    dls = MNISTGlimpseDataLoaders.from_tensors(digits[0][:512], digits[1][:512], bs=64)
    for rollouts in (4, 1): # the default (leave-one-out baseline: nothing to fit) and the paper's learned baseline
        grab = _Grab()
        learn = ram_learner(dls, cbs=grab, rollouts=rollouts)
        with learn.no_bar(): learn.fit(1, 1e-3)
        loss,ce,rl,bl = grab.res
        assert loss == pytest.approx(ce+rl+bl, rel=1e-5)
        assert rl != 0 and (bl > 0 if rollouts==1 else bl == 0), (rollouts, bl)

def test_interpretation_and_preds(trained):
    interp = ClassificationInterpretation.from_learner(trained)
    cm = interp.confusion_matrix()
    assert cm.shape == (10,10) and cm.sum() == 2000
    assert np.trace(cm)/cm.sum() == pytest.approx(1-trained.validate()[1], abs=1e-4)
    preds,targs = trained.get_preds()
    assert preds.shape == (2000,10)

def test_export_round_trip(trained, tmp_path):
    trained.export(tmp_path/'ram.pkl')
    learn2 = load_learner(tmp_path/'ram.pkl')
    xb = trained.dls.valid.one_batch()[0]
    trained.model.eval()
    with torch.no_grad(): a,b = trained.model(xb)[0], learn2.model(xb)[0]
    assert torch.allclose(a, b)
    assert learn2.dls.vocab == trained.dls.vocab
    preds,_ = learn2.get_preds(dl=trained.dls.valid)
    assert preds.shape == (2000,10)

def test_plot_glimpses(trained, tmp_path):
    fig = plot_glimpses(trained, n=3, gif=tmp_path/'g.gif')
    assert len(fig.axes) == 3*7
    assert (tmp_path/'g.gif').stat().st_size > 0

class _AutocastHere(Callback):
    "After fastai's `MixedPrecision.before_fit`: autocast the loaders' device (fastai autocasts CUDA only, a no-op on CPU)"
    order = MixedPrecision.order+1
    def before_fit(self):
        mp,dev = self.learn.mixed_precision,self.dls.device.type if self.dls.device else 'cpu'
        dtype = torch.bfloat16 if mp.amp_mode==AMPMode.BF16 else torch.float16
        mp.autocast,self.learn.scaler = autocast(dev, dtype=dtype),GradScaler(dev, enabled=dtype==torch.float16)

@pytest.mark.parametrize('to_mp', ['to_fp16', 'to_bf16'])
def test_mixed_precision(digits, to_mp):
    "Under `to_fp16`/`to_bf16` the model computes in half precision, keeps float32 weights, and trains to finite losses"
    dls = MNISTGlimpseDataLoaders.from_tensors(digits[0][:256], digits[1][:256], bs=64)
    learn = getattr(ram_learner(dls, core='lstm'), to_mp)()
    learn.add_cb(_AutocastHere())
    dtype = torch.bfloat16 if to_mp=='to_bf16' else torch.float16
    seen = []  # the dtype of the class scores of every forward pass
    hook = learn.model.register_forward_hook(lambda m,i,o: seen.append(o[0].dtype))
    w0 = [p.detach().clone() for p in learn.model.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with learn.no_bar(): learn.fit(1, 1e-3)
        hook.remove()
        assert seen and set(seen)=={dtype}, (to_mp, set(seen))  # every batch, train and valid, in half precision
        assert all(p.dtype==torch.float32 for p in learn.model.parameters()), 'the master weights stay float32'
        assert any(not torch.equal(p, q) for p,q in zip(learn.model.parameters(), w0)), 'no step was taken'
        assert all(np.isfinite(float(l)) for l in learn.recorder.losses) and np.isfinite(learn.validate()[0])
        assert learn.get_preds()[0].dtype==torch.float32  # `after_pred` hands float32 scores to the loss and metrics

def test_bf16_autocast_forward_backward():
    model = RecurrentAttention(28, depth=2, core='lstm')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits,log_pi,bl,locs = model(torch.rand(8,1,28,28))
    (logits.float().sum() + log_pi.sum() + bl.float().sum()).backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())

def test_translated_and_cluttered_run(digits):
    x,y = digits[0][:640], digits[1][:640]
    for variant,gs,depth in (('translated',12,3), ('cluttered',12,3)):
        dls = MNISTGlimpseDataLoaders.from_tensors(x, y, variant=variant, size=60, bs=64)
        learn = ram_learner(dls, glimpse_size=gs, depth=depth)
        assert learn.model.img_size == 60
        with learn.no_bar(): learn.fit(1, 1e-3)
        assert np.isfinite(learn.recorder.values[-1][1])

def test_translated_training_positions_change(digits):
    dls = MNISTGlimpseDataLoaders.from_tensors(digits[0][:256], digits[1][:256], variant='translated', bs=64)
    b1,b2 = dls.train.one_batch()[0], dls.train.one_batch()[0]
    assert b1.shape == (64,1,60,60) and not torch.equal(b1, b2)
    assert torch.equal(dls.valid.one_batch()[0], dls.valid.one_batch()[0])

def test_bad_input(digits):
    x,y = digits
    dls = MNISTGlimpseDataLoaders.from_tensors(x[:256], y[:256], bs=64)
    learn = ram_learner(dls)
    with pytest.raises(ValueError, match='built for 28x28 images, got 60x60'): learn.model(torch.rand(2,1,60,60))
    with pytest.raises(ValueError, match='1-channel images, got 3 channels'): learn.model(torch.rand(2,3,28,28))
    with pytest.raises(ValueError, match='n_glimpses` must be a positive int'): ram_learner(dls, n_glimpses=0)
    with pytest.raises(ValueError, match='larger than the 28x28 canvas'): ram_learner(dls, glimpse_size=29)
    with pytest.raises(ValueError, match='over twice the 28x28 canvas'): ram_learner(dls, depth=4)
    with pytest.raises(ValueError, match='use one of rnn, lstm'): ram_learner(dls, core='gru')
    with pytest.raises(ValueError, match='grey-scale'): MNISTGlimpseDataLoaders.from_tensors(x[:8].repeat(1,3,1,1), y[:8])
    with pytest.raises(ValueError, match='divide by 255'): MNISTGlimpseDataLoaders.from_tensors(x[:8]*255, y[:8])
    with pytest.raises(ValueError, match='1 images have NaN pixels, first image 2'):
        MNISTGlimpseDataLoaders.from_tensors(x[:8].clone().index_fill_(0, torch.tensor([2]), float('nan')), y[:8])
    with pytest.raises(ValueError, match='do not fit'): MNISTGlimpseDataLoaders.from_tensors(x[:8], y[:8], variant='translated', size=20)
    with pytest.raises(ValueError, match="use one of plain, translated, cluttered"): MNISTGlimpseDataLoaders.from_tensors(x[:8], y[:8], variant='x')
    with pytest.raises(ValueError, match='8 images but 7 labels'): MNISTGlimpseDataLoaders.from_tensors(x[:8], y[:7])
    with pytest.raises(ValueError, match="Unknown arch 'nope'"): recfast_learner(dls, arch='nope')

def test_registered(digits):
    assert 'ram' in known_archs()

def test_datablock_from_png_folders(digits, tmp_path):
    "The `untar_data(URLs.MNIST)` layout (training/, testing/, one folder per digit) through `GlimpseBlock`"
    from PIL import Image
    from fastai.data.block import DataBlock, CategoryBlock
    from fastai.data.transforms import get_image_files, GrandparentSplitter, parent_label
    x,y = digits
    for i in range(160):
        d = tmp_path/('training' if i<128 else 'testing')/str(y[i].item())
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray((x[i,0]*255).round().byte().numpy()).save(d/f'{i}.png')
    xf,yf = mnist_digits(tmp_path, split='testing')
    assert xf.shape == (32,1,28,28)
    dblock = DataBlock(blocks=(GlimpseBlock(60), CategoryBlock), get_items=get_image_files,
                       splitter=GrandparentSplitter('training', 'testing'), get_y=parent_label)
    dls = dblock.dataloaders(tmp_path, bs=32)
    learn = ram_learner(dls, glimpse_size=12, depth=3)
    assert learn.model.img_size == 60
    with learn.no_bar(): learn.fit(1, 1e-3)
    assert np.isfinite(learn.recorder.values[-1][1])
