#!/usr/bin/env python3
"""Golden values for extensions/geometry-ldm/src/diffusion (the TypeScript samplers).

Everything here is computed from the formulas of the method (docs/method.md,
sections 3 and 4), the DDPM paper (Ho et al. 2020), the DDIM paper (Song et al.
2021, eq. 12) and the published definitions of xoshiro128**, splitmix32,
FNV-1a and Marsaglia's polar method -- written independently of the
TypeScript code, so that the TS tests fail when someone changes a formula
there. Float math runs in float64 (torch for the schedules and sampler steps,
plain Python for the RNG, whose log is Python's math.log).

Needs only the Debian python3 with torch and numpy:

    /usr/bin/python3 test/reference/diffusion_reference.py [--out PATH]

writes extensions/geometry-ldm/src/diffusion/__fixtures__/diffusion-golden.json
by default. After regenerating, run `npx prettier --write` on it (the test that
re-runs this script compares values, not formatting).

Conventions (the contract the TS code implements):
- Timesteps are 0-based, t = 0 .. T-1. alpha_bar[t] = prod_{s <= t} (1 - beta[s]).
- A plan is a decreasing list of timesteps; the step at plan[i] goes to plan[i+1],
  and the step at the last one goes to the clean sample ("prev" = -1, alpha_bar = 1).
- Fixed inputs are float32 values (the samplers take Float32Array); they are
  stored in the JSON as the exact float64 value of each float32.
"""

import argparse
import json
import math
import os
from fractions import Fraction

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(
    REPO, 'extensions', 'geometry-ldm', 'src', 'diffusion', '__fixtures__', 'diffusion-golden.json'
)

N = 64  # length of the fixed input vectors
CLEAN = -1

# ----------------------------------------------------------------------------
# Fixed inputs. Only integer arithmetic and one IEEE division per value (no
# transcendental functions), so they are the same bits on every machine.


def fixed_vector(a, b, c, m, h, d):
    """float32(((a*i*i + b*i + c) mod m - h) / d) for i = 0..N-1."""
    vals = [(((a * i * i + b * i + c) % m) - h) / d for i in range(N)]
    return [float(np.float32(v)) for v in vals]


INPUTS = {
    'n': N,
    'sample': fixed_vector(37, 7919, 13, 1000, 500, 211.0),  # in [-2.4, 2.4]
    'eps': fixed_vector(61, 104729, 7, 997, 498, 287.0),  # in [-1.8, 1.8]
    'noise': fixed_vector(17, 15485863, 3, 991, 495, 301.0),  # in [-1.7, 1.7]
    'z0': fixed_vector(83, 3571, 29, 1009, 504, 389.0),  # in [-1.3, 1.3]
}


def vec(name):
    return torch.tensor(INPUTS[name], dtype=torch.float64)


def out_list(t):
    return [float(v) for v in t.tolist()]


# ----------------------------------------------------------------------------
# Schedules.

PAPER = {'numTrainTimesteps': 1000, 'betaStart': 0.0015, 'betaEnd': 0.0195, 'betaSchedule': 'scaled_linear'}
SCHEDULE_CONFIGS = [
    ('paper-scaled-linear', PAPER),
    ('paper-linear', dict(PAPER, betaSchedule='linear')),
    ('ddpm-linear-500', {'numTrainTimesteps': 500, 'betaStart': 0.0001, 'betaEnd': 0.02, 'betaSchedule': 'linear'}),
]


def betas_for(cfg):
    T = cfg['numTrainTimesteps']
    if cfg['betaSchedule'] == 'scaled_linear':
        return torch.linspace(cfg['betaStart'] ** 0.5, cfg['betaEnd'] ** 0.5, T, dtype=torch.float64) ** 2
    if cfg['betaSchedule'] == 'linear':
        return torch.linspace(cfg['betaStart'], cfg['betaEnd'], T, dtype=torch.float64)
    raise ValueError(cfg['betaSchedule'])


class Schedule:
    def __init__(self, cfg):
        self.T = cfg['numTrainTimesteps']
        self.betas = betas_for(cfg)
        self.alphas = 1.0 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, dim=0)

    def ab(self, t):
        """alpha_bar_t as a Python float, with alpha_bar_{-1} = 1 (the clean sample)."""
        return 1.0 if t == CLEAN else float(self.alpha_bar[t])


def sample_points(T):
    pts = set(range(0, T, 7)) | {0, 1, 2, 3, 10, 99, 100, 101, T // 2 - 1, T // 2, T - 3, T - 2, T - 1}
    return sorted(p for p in pts if 0 <= p < T)


def schedule_entry(name, cfg):
    s = Schedule(cfg)
    ts = sample_points(s.T)
    return {
        'name': name,
        'config': cfg,
        't': ts,
        'betas': [float(s.betas[t]) for t in ts],
        'alphas': [float(s.alphas[t]) for t in ts],
        'alphaBar': [float(s.alpha_bar[t]) for t in ts],
        # math.fsum: the correctly rounded sum, independent of summation order.
        'sums': {
            'betas': math.fsum(s.betas.tolist()),
            'alphas': math.fsum(s.alphas.tolist()),
            'alphaBar': math.fsum(s.alpha_bar.tolist()),
        },
    }


# ----------------------------------------------------------------------------
# Plans.


def leading_plan(T, k):
    """diffusers 'leading': (arange(k) * (T // k)) reversed."""
    return [int(v) for v in (np.arange(0, k) * (T // k)).round()[::-1]]


def trailing_plan(T, k):
    """diffusers 'trailing': round(arange(T, 0, -T / k)) - 1 (numpy rounds halves to even)."""
    ts = np.round(np.arange(T, 0, -T / k)).astype(np.int64) - 1
    assert len(ts) == k, (T, k, ts)
    return [int(v) for v in ts]


def partial_plan(t_start, k):
    """round(t_start * (k - i) / k), halves rounded up, in exact rational arithmetic."""
    return [math.floor(Fraction(t_start * (k - i), k) + Fraction(1, 2)) for i in range(k)]


def prev_in(plan, t):
    i = plan.index(t)
    return plan[i + 1] if i + 1 < len(plan) else CLEAN


# ----------------------------------------------------------------------------
# Forward process.


def add_noise(s, z0, eps, t):
    ab = s.ab(t)
    return math.sqrt(ab) * z0 + math.sqrt(1.0 - ab) * eps


# ----------------------------------------------------------------------------
# DDPM.


def ddpm_step(s, x, eps, noise, t, prev, variance_type):
    if prev == t - 1:
        # Stride 1: the paper's formula, z_{t-1} = (z_t - b_t / sqrt(1 - ab_t) eps) / sqrt(a_t) + sigma_t n.
        beta = float(s.betas[t])
        alpha = float(s.alphas[t])
        mean = (x - beta / math.sqrt(1.0 - s.ab(t)) * eps) / math.sqrt(alpha)
    else:
        # Strided: mean of the posterior q(x_prev | x_t, x0), x0 predicted from eps
        # (DDPM paper eq. 7 with the jump's own alpha = ab_t / ab_prev).
        ab_t, ab_prev = s.ab(t), s.ab(prev)
        alpha = ab_t / ab_prev
        beta = 1.0 - alpha
        x0 = (x - math.sqrt(1.0 - ab_t) * eps) / math.sqrt(ab_t)
        mean = (math.sqrt(ab_prev) * beta / (1.0 - ab_t)) * x0 + (
            math.sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab_t)
        ) * x
    if prev == CLEAN:
        return mean  # no noise at the last step
    if variance_type == 'fixed_large':
        var = beta
    elif variance_type == 'fixed_small':
        var = (1.0 - s.ab(prev)) / (1.0 - s.ab(t)) * beta
    else:
        raise ValueError(variance_type)
    return mean + math.sqrt(var) * noise


# ----------------------------------------------------------------------------
# DDIM (Song et al. 2021, eq. 12 with sigma from eq. 16).


def ddim_step(s, x, eps, noise, t, prev, eta):
    a_t, a_prev = s.ab(t), s.ab(prev)
    pred_x0 = (x - math.sqrt(1.0 - a_t) * eps) / math.sqrt(a_t)
    sigma = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t)) * math.sqrt(1.0 - a_t / a_prev)
    direction = math.sqrt(max(0.0, 1.0 - a_prev - sigma**2)) * eps
    out = math.sqrt(a_prev) * pred_x0 + direction
    if sigma > 0:
        out = out + sigma * noise
    return out


# ----------------------------------------------------------------------------
# RNG: splitmix32 seeding, xoshiro128**, 53-bit doubles, Marsaglia polar.

M32 = 0xFFFFFFFF


def rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & M32
    return h


def seed32(seed):
    return fnv1a32(seed.encode('utf-8')) if isinstance(seed, str) else seed & M32


def splitmix32(state):
    while True:
        state = (state + 0x9E3779B9) & M32
        z = state
        z = ((z ^ (z >> 16)) * 0x21F0AAAD) & M32
        z = ((z ^ (z >> 15)) * 0x735A2D97) & M32
        yield z ^ (z >> 15)


class Xoshiro128StarStar:
    def __init__(self, seed):
        gen = splitmix32(seed32(seed))
        self.s = [next(gen) for _ in range(4)]
        self.spare = None

    def next_uint32(self):
        s = self.s
        result = (rotl32((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl32(s[3], 11)
        return result

    def next_float64(self):
        hi = self.next_uint32() >> 5  # 27 bits
        lo = self.next_uint32() >> 6  # 26 bits
        return ((hi << 26) | lo) / 2.0**53

    def next_gaussian(self):
        if self.spare is not None:
            g, self.spare = self.spare, None
            return g
        while True:
            u = 2.0 * self.next_float64() - 1.0
            v = 2.0 * self.next_float64() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                break
        factor = math.sqrt(-2.0 * math.log(s) / s)
        self.spare = v * factor
        return u * factor


def derive_seed(base, *path):
    text = json.dumps([base, *path], separators=(',', ':'), ensure_ascii=False)
    return fnv1a32(text.encode('utf-8'))


# ----------------------------------------------------------------------------


def build():
    paper = Schedule(PAPER)
    T = paper.T
    x, e, n, z0 = vec('sample'), vec('eps'), vec('noise'), vec('z0')

    golden = {
        'description': 'Golden values for the diffusion samplers; generated by test/reference/diffusion_reference.py. '
        'Do not edit by hand.',
        'inputs': INPUTS,
        'schedules': [schedule_entry(name, cfg) for name, cfg in SCHEDULE_CONFIGS],
    }

    golden['addNoise'] = [{'t': t, 'out': out_list(add_noise(paper, z0, e, t))} for t in [0, 1, 100, 500, 999]]

    # DDPM: default full chain (k = None), and "leading" strided plans.
    ddpm_plans = {None: list(range(T - 1, -1, -1))}
    for k in [50, 7, 3, 1]:
        ddpm_plans[k] = leading_plan(T, k)
    ddpm_steps = []
    for k, ts in [(None, [999, 998, 500, 100, 2, 1, 0]), (50, [980, 500, 20, 0]), (7, [852, 142, 0])]:
        for variance_type in ['fixed_large', 'fixed_small']:
            for t in ts:
                prev = prev_in(ddpm_plans[k], t)
                ddpm_steps.append(
                    {
                        'numInferenceSteps': k,
                        'varianceType': variance_type,
                        't': t,
                        'prev': prev,
                        'out': out_list(ddpm_step(paper, x, e, n, t, prev, variance_type)),
                    }
                )
    golden['ddpm'] = {
        'plans': [{'numInferenceSteps': k, 'timesteps': ts} for k, ts in ddpm_plans.items()],
        'steps': ddpm_steps,
    }

    # DDIM plans.
    ddim_plans = []
    for k in [50, 10, 7, 1]:
        ddim_plans.append({'kind': 'full', 'spacing': 'leading', 'k': k, 'timesteps': leading_plan(T, k)})
    for k in [10, 16, 3]:
        ddim_plans.append({'kind': 'full', 'spacing': 'trailing', 'k': k, 'timesteps': trailing_plan(T, k)})
    for t_start, k in [(100, 10), (100, 5), (100, 1), (100, 8), (100, 3), (100, 100), (999, 7), (250, 40), (10, 10)]:
        ddim_plans.append({'kind': 'partial', 'tStart': t_start, 'k': k, 'timesteps': partial_plan(t_start, k)})

    def find_plan(**kw):
        return next(p for p in ddim_plans if all(p.get(key) == val for key, val in kw.items()))

    ddim_steps = []
    chosen = [
        (find_plan(kind='full', spacing='leading', k=50), 'ends'),  # first, middle and last step
        (find_plan(kind='full', spacing='trailing', k=16), 'ends'),
        (find_plan(kind='partial', tStart=100, k=10), 'all'),
        (find_plan(kind='partial', tStart=100, k=5), 'all'),
        (find_plan(kind='partial', tStart=100, k=1), 'all'),
    ]
    for plan, which in chosen:
        ts = plan['timesteps']
        if which == 'ends':
            ts = [ts[0], ts[len(ts) // 2], ts[-1]]
        ref = {key: plan[key] for key in ('kind', 'spacing', 'tStart', 'k') if key in plan}
        for eta in [0.0, 0.5]:
            for t in ts:
                prev = prev_in(plan['timesteps'], t)
                out = ddim_step(paper, x, e, n, t, prev, eta)
                ddim_steps.append({'plan': ref, 'eta': eta, 't': t, 'prev': prev, 'out': out_list(out)})
    golden['ddim'] = {'plans': ddim_plans, 'steps': ddim_steps}

    # RNG.
    streams = []
    for seed in [0, 42, 'study-1']:
        g = Xoshiro128StarStar(seed)
        uint32 = [g.next_uint32() for _ in range(64)]
        g = Xoshiro128StarStar(seed)
        float64 = [g.next_float64() for _ in range(16)]
        g = Xoshiro128StarStar(seed)
        gaussians = [g.next_gaussian() for _ in range(64)]
        streams.append(
            {'seed': seed, 'seed32': seed32(seed), 'uint32': uint32, 'float64': float64, 'gaussians': gaussians}
        )
    derived = [
        {'base': base, 'path': list(path), 'seed': derive_seed(base, *path)}
        for base, path in [
            (42, ()),
            (42, ('sample', 0)),
            (42, ('sample', 1)),
            (42, ('sample', 3, 'cycle', 2)),
            ('study-1', ('sr', 7)),
            (0, ('é', -5)),
            (4294967295, ('noise',)),
        ]
    ]
    log_x = [
        1.0,
        2.0,
        0.5,
        10.0,
        1e-300,
        5e-324,
        1.7976931348623157e308,
        math.nextafter(1.0, 2.0),
        math.nextafter(1.0, 0.0),
        1.0 + 2.0**-21,
        1.0 - 2.0**-22,
        0.7071067811865476,
        1.4142135623730951,
    ]
    g = Xoshiro128StarStar(7)
    log_x += [g.next_float64() for _ in range(48)]  # the polar method's range, (0, 1)
    log_x += [math.ldexp(g.next_float64() + 0.5, (g.next_uint32() % 200) - 100) for _ in range(16)]
    golden['rng'] = {
        'streams': streams,
        'deriveSeed': derived,
        'log': [{'x': v, 'log': math.log(v)} for v in log_x],
    }
    return golden


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT, help='output JSON path (default: the committed fixture)')
    args = parser.parse_args()
    golden = build()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(golden, f, indent=2, ensure_ascii=False, allow_nan=False)
        f.write('\n')


if __name__ == '__main__':
    main()
