"""DDPM / DDIM noise schedule (docs/method.md sections 3 and 4), 0-based t = 0..T-1.

Scaled-linear betas: beta_t = linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (the paper:
0.0015, 0.0195, T = 1000); linear: linspace(beta_start, beta_end, T). The TypeScript twin is
extensions/geometry-ldm/src/diffusion/schedule.ts; models/training/scheduleParity.test.ts
checks the two over every t of the shipped model's table.
DDPM reverse variance sigma_t^2 = beta_t, no noise at the last step.
DDIM eta = 0. alpha_bar_prev of the last step of any plan is 1.
Every tensor made here follows the device of its inputs (CPU or CUDA); noise drawn
with a torch.Generator is drawn on the generator's device, then moved.
"""
from __future__ import annotations

import numpy as np
import torch


# The paper's schedule (docs/method.md section 3): the default of a config that names none. Every
# runtime takes the schedule of a model from its model.json `scheduler` (Schedule.from_json).
PAPER_SCHEDULER = {'type': 'ddpm', 'numTrainTimesteps': 1000, 'betaSchedule': 'scaled_linear',
                   'betaStart': 0.0015, 'betaEnd': 0.0195, 'varianceType': 'fixed_large',
                   'predictionType': 'epsilon'}
BETA_SCHEDULES = ('scaled_linear', 'linear')


class Schedule:
    def __init__(self, T, beta_start, beta_end, kind='scaled_linear'):
        if kind not in BETA_SCHEDULES:
            raise ValueError(f'betaSchedule {kind!r}: expected one of {BETA_SCHEDULES}')
        if not (isinstance(T, int) and T >= 2 and 0 < beta_start <= beta_end < 1):
            raise ValueError(f'invalid schedule: T={T!r}, betaStart={beta_start!r}, betaEnd={beta_end!r}')
        self.T = T
        self.kind = kind
        self.beta_start, self.beta_end = beta_start, beta_end
        if kind == 'scaled_linear':
            betas = np.linspace(np.sqrt(beta_start), np.sqrt(beta_end), T, dtype=np.float64) ** 2
        else:
            betas = np.linspace(beta_start, beta_end, T, dtype=np.float64)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bar = np.cumprod(self.alphas)

    @classmethod
    def from_json(cls, d: dict) -> 'Schedule':
        """The schedule a model.json `scheduler` states (the single source for every runtime)."""
        if d.get('type', 'ddpm') != 'ddpm':
            raise ValueError(f'scheduler type {d.get("type")!r}: expected ddpm')
        return cls(int(d['numTrainTimesteps']), float(d['betaStart']), float(d['betaEnd']), d['betaSchedule'])

    @classmethod
    def from_config(cls, cfg: dict | None) -> 'Schedule':
        """The schedule a training config's `diffusion` section states (the paper's where it names none)."""
        d = (cfg or {}).get('diffusion', {})
        return cls(int(d.get('T', PAPER_SCHEDULER['numTrainTimesteps'])),
                   float(d.get('beta_start', PAPER_SCHEDULER['betaStart'])),
                   float(d.get('beta_end', PAPER_SCHEDULER['betaEnd'])),
                   d.get('beta_schedule', PAPER_SCHEDULER['betaSchedule']))

    def to_json(self) -> dict:
        return {**PAPER_SCHEDULER, 'numTrainTimesteps': self.T, 'betaSchedule': self.kind,
                'betaStart': self.beta_start, 'betaEnd': self.beta_end}

    def ab(self, t):
        """alpha_bar[t] (float32), on t's device (t: integer tensor)."""
        t = torch.as_tensor(t)
        return torch.as_tensor(self.alpha_bar, dtype=torch.float32, device=t.device)[t]

    def q_sample(self, z0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        ab = self.ab(torch.as_tensor(t).to(z0.device)).to(z0.dtype).view(-1, *([1] * (z0.dim() - 1)))
        return ab.sqrt() * z0 + (1 - ab).sqrt() * eps

    def ddpm_step(self, z_t, t: int, eps_hat, generator=None):
        beta, alpha, ab = self.betas[t], self.alphas[t], self.alpha_bar[t]
        mean = (z_t - beta / np.sqrt(1 - ab) * eps_hat) / np.sqrt(alpha)
        if t == 0:
            return mean
        return mean + np.sqrt(beta) * randn_like_on(z_t, generator)

    def leading_plan(self, steps: int):
        """diffusers 'leading' spacing: (arange(k) * (T // k)) descending (as diffusion/timesteps.ts)."""
        ratio = self.T // steps
        return [int(i * ratio) for i in range(steps)][::-1]

    def partial_plan(self, t_start: int, steps: int):
        """From t_start: round(t_start * (k - i) / k), i = 0..k-1 (as diffusion/timesteps.ts)."""
        return [int((2 * t_start * (steps - i) + steps) // (2 * steps)) for i in range(steps)]

    def ddim_step(self, z_t, t: int, t_prev: int, eps_hat):
        ab = self.alpha_bar[t]
        ab_prev = 1.0 if t_prev < 0 else self.alpha_bar[t_prev]
        x0 = (z_t - np.sqrt(1 - ab) * eps_hat) / np.sqrt(ab)
        return np.sqrt(ab_prev) * x0 + np.sqrt(1 - ab_prev) * eps_hat


def randn_like_on(z: torch.Tensor, generator=None) -> torch.Tensor:
    """Standard normal noise shaped like z, on z's device and dtype. With a generator the
    draw happens on the generator's device (a CPU generator gives the same numbers for a
    CPU or CUDA z), then moves to z's device."""
    device = generator.device if generator is not None else z.device
    return torch.randn(z.shape, generator=generator, device=device).to(device=z.device, dtype=z.dtype)


@torch.no_grad()
def ddim_sample(unet, sched: Schedule, z_T, coords, steps=50, t_start=None, guidance: float = 1.0):
    """Deterministic DDIM from z_T. guidance != 1: classifier-free guidance, eps = eps_null +
    guidance (eps - eps_null), eps_null the UNet's prediction under the null condition (all-zero
    coordinates; a UNet trained with diffusion.cond_drop > 0), as the TypeScript sampler's guidedEps."""
    plan = sched.leading_plan(steps) if t_start is None else sched.partial_plan(t_start, steps)
    z = z_T
    for n, t in enumerate(plan):
        t_prev = plan[n + 1] if n + 1 < len(plan) else -1
        tt = torch.full((z.shape[0],), float(t), device=z.device)
        eps = unet(z, tt, coords)
        if guidance != 1.0:
            eps_null = unet(z, tt, torch.zeros_like(coords))
            eps = eps_null + guidance * (eps - eps_null)
        z = sched.ddim_step(z, t, t_prev, eps)
    return z


@torch.no_grad()
def super_resolve_latent(unet, sched: Schedule, z0, coords, t=100, cycles=5, steps=10, generator=None):
    """Emergent SR (docs/method.md section 4) on an (already scaled) latent."""
    z = z0
    for _ in range(cycles):
        eps = randn_like_on(z, generator)
        z = sched.q_sample(z, torch.full((z.shape[0],), t, dtype=torch.long, device=z.device), eps)
        z = ddim_sample(unet, sched, z, coords, steps=steps, t_start=t)
    return z


def sr_t_start(contract: dict, sched: 'Schedule') -> int:
    """The diffusion super-resolution mode's noise level (method: t = 100). A model whose UNet
    sees latents of another spread can set contract.srTStart to keep the same signal-to-noise
    ratio (0.5.0: std 1.0 at t = 66 ~ 0.4.0's std 1.305 at t = 100; docs/method.md)."""
    t = contract.get('srTStart', 100)
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t < sched.T:
        raise ValueError(f'contract.srTStart must be an integer in [1, {sched.T - 1}], got {t!r}')
    return t


def sr_cycles(contract: dict) -> int:
    """The diffusion super-resolution mode's noise-and-denoise cycles (contract.srCycles; the paper's
    5 when absent). Per model: the demo model uses 1 (BENCHMARKS.md: with its small UNet each
    further cycle costs accuracy on scans it never saw)."""
    n = contract.get('srCycles', 5)
    if not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 50):
        raise ValueError(f'contract.srCycles must be an integer in [1, 50], got {n!r}')
    return n


def generation_guidance(contract: dict) -> float | None:
    """Generation's classifier-free guidance scale (contract.generationGuidanceScale, a number in
    [1, 20]; None when absent: no guidance, and no manifest field). Only for a UNet trained with
    diffusion.cond_drop > 0: the null condition means nothing to one that never saw it."""
    g = contract.get('generationGuidanceScale')
    if g is None:
        return None
    if isinstance(g, bool) or not isinstance(g, (int, float)) or not 1 <= g <= 20:
        raise ValueError(f'contract.generationGuidanceScale must be a number in [1, 20], got {g!r}')
    return float(g)
