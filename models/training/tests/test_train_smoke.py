"""End to end on real data with the tiny config: autoencoder stage, resume, diffusion
stage, export from the checkpoints (one command per step; checkpoints in a temp dir)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
sys.path.insert(0, TRAINING)
from ldm import data as D  # noqa: E402


def run(*args):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-m', *args], cwd=TRAINING, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f'{args} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}')
    return r.stdout


@unittest.skipUnless(os.path.isdir(os.path.join(D.DEFAULT_DATA_ROOT, 'lung-pet-ct-dx-a0002')), 'no shared data')
class TrainSmokeTest(unittest.TestCase):
    def test_train_resume_export(self):
        with tempfile.TemporaryDirectory() as ck, tempfile.TemporaryDirectory() as out:
            cfg = os.path.join('configs', 'tiny-test.json')
            run('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', ck, '--max-iters', '2')
            log = run('ldm.train', '--config', cfg, '--stage', 'autoencoder', '--checkpoint-dir', ck, '--resume',
                      '--max-iters', '3')
            self.assertIn('resumed at iter 2', log)
            with open(os.path.join(ck, 'autoencoder', 'log.jsonl')) as f:
                iters = [json.loads(line).get('iter') for line in f]
            self.assertEqual([i for i in iters if i is not None], [1, 2, 3])
            run('ldm.train', '--config', cfg, '--stage', 'diffusion', '--checkpoint-dir', ck, '--max-iters', '2')
            self.assertTrue(os.path.exists(os.path.join(ck, 'diffusion', 'latents.pt')))
            run('ldm.export', '--config', cfg, '--checkpoint-dir', ck, '--out', out)
            with open(os.path.join(out, 'model.json')) as f:
                man = json.load(f)
            self.assertEqual(sorted(man['files']), ['decoder', 'encoder', 'unet'])
            self.assertGreater(man['latent']['scale'], 0)


if __name__ == '__main__':
    unittest.main()
