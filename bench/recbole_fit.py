"""Run inside RecBole's own environment by bench_recbole.py (RecBole 1.2.1 needs numpy<2, pandas<2.3, scipy<1.13): fit
one RecBole model on the atomic files of a folder and write every user's scores over the catalogue.

Usage: recbole_fit.py FOLDER MODEL CONFIG_JSON OUT_NPZ. Tokens are the loaders' indices. FOLDER/rb/ holds either
rb.train.inter, rb.valid.inter and rb.test.inter (a general model; the valid and test files are never evaluated), or
rb.inter with a time column (a sequential model: RecBole's leave-one-out, 'test_only', holds each user's last item out
and trains on the rest). Training runs a fixed number of epochs, the recipe chosen outside. Writes OUT_NPZ with `users`
(tokens of the users scored), `items` (tokens of RecBole's item ids), `scores` (users x items, float32) and `fit_s`
(training seconds, one thread)."""
import json, os, sys, time
import numpy as np, torch
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.data.interaction import Interaction
from recbole.utils import init_seed, get_model, get_trainer

folder,name,cfg,out = sys.argv[1],sys.argv[2],json.loads(sys.argv[3]),sys.argv[4]
torch.set_num_threads(1); os.chdir(folder)  # RecBole writes its log/ and saved/ folders in the working directory
seq = os.path.exists(os.path.join(folder, 'rb', 'rb.inter'))
split = (dict(load_col={'inter':['user_id', 'item_id', 'timestamp']},
              eval_args={'split':{'LS':'test_only'}, 'order':'TO', 'group_by':'user', 'mode':'full'}) if seq else
         dict(benchmark_filename=['train', 'valid', 'test'], load_col={'inter':['user_id', 'item_id']},
              eval_args={'split':{'RS':[1.0, 0.0, 0.0]}, 'order':'RO', 'group_by':'user', 'mode':'full'}))
config = Config(model=name, dataset='rb', config_dict={
    'data_path':folder, **split, 'device':'cpu', 'use_gpu':False, 'show_progress':False,
    'eval_step':cfg.get('epochs', 1)+1, 'stopping_step':10**6,  # never evaluates: a fixed number of epochs
    'checkpoint_dir':os.path.join(folder, 'saved'), 'seed':cfg.pop('seed', 0), **cfg})
init_seed(config['seed'], config['reproducibility'])
ds = create_dataset(config)
train,valid,test = data_preparation(config, ds)
model = get_model(config['model'])(config, train._dataset).to('cpu')
trainer = get_trainer(config['MODEL_TYPE'], config['model'])(config, model)
t = time.perf_counter(); trainer.fit(train, None, saved=False, show_progress=False); fit_s = time.perf_counter()-t
model.eval()
tok = lambda f, ids: np.asarray(ds.field2id_token[f][ids]).astype(np.int64)
with torch.no_grad():
    if seq:  # each user's training sequence, as RecBole's test loader gives it, scored for the held-out item
        us,rows = [],[]
        for inter,*_ in test:
            us.append(inter['user_id'].numpy()); rows.append(model.full_sort_predict(inter).view(len(us[-1]), -1))
        users = np.concatenate(us)
    else:
        users = np.arange(1, ds.user_num)
        rows = [model.full_sort_predict(Interaction({'user_id':torch.from_numpy(users[s:s+256])}))
                .view(-1, ds.item_num) for s in range(0, len(users), 256)]
np.savez(out, users=tok('user_id', users), items=tok('item_id', np.arange(1, ds.item_num)),
         scores=torch.cat(rows)[:, 1:].float().numpy(), fit_s=fit_s)
