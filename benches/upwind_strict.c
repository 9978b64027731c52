/* The plain C reference for `cargo bench --bench stage`: one explicit upwind stage on an n x n
 * block, the same field, faces and operation order as the Rust kernel (src/scheme/stage.rs),
 * with strict IEEE math: `kappa pow(f, gamma)` per cell from libm, no integer-exponent special
 * case, no fast-math. Built and run by the bench with the system `cc -O3 -march=native`.
 *
 *   usage: upwind_strict N REPS GAMMA      prints "<best M cell-updates/s> <median M/s>"
 *
 * Flux through the x-face between cells (j, i-1) and (j, i), +x direction:
 *   F = k_plus f_L - k_minus f_R,  k_plus = D/h + max(-x_f, 0) (1 + kappa f_L^gamma),
 *   k_minus = D/h + max(x_f, 0) (1 + kappa f_R^gamma),  zero on the physical boundary.
 * Update: out = f + dt/h ((Fw - Fe) + (Fs - Fn)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void faces(int n, const double *xf, const double *fl, const double *fr, const double *al,
                  const double *ar, double d_over_h, double *out) {
    for (int k = 0; k < n; k++) {
        double kp = d_over_h + fmax(-xf[k], 0.0) * (1.0 + al[k]);
        double km = d_over_h + fmax(xf[k], 0.0) * (1.0 + ar[k]);
        out[k] = kp * fl[k] - km * fr[k];
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s N REPS GAMMA\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), reps = atoi(argv[2]);
    double gamma = atof(argv[3]);
    const double kappa = 1.0, diffusion = 1.0, half = 6.0;
    double h = 2.0 * half / n, d_over_h = diffusion / h, c = (n - 1) / 2;
    int s = n + 2; /* one ghost layer, as in Field */
    double *f = calloc((size_t)s * s, sizeof *f), *out = calloc((size_t)s * s, sizeof *out);
    double *aux = calloc((size_t)s * s, sizeof *aux), *xfaces = malloc((n + 1) * sizeof *xfaces);
    double *fx = malloc((n + 1) * sizeof *fx), *fs = malloc(n * sizeof *fs);
    double *fn = malloc(n * sizeof *fn), *times = malloc((reps + 1) * sizeof *times);
    for (int i = 0; i <= n; i++) xfaces[i] = (i - c - 0.5) * h;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double x = (i - c) * h, y = (j - c) * h;
            f[(j + 1) * s + i + 1] = 3.0 * exp(-(x * x + y * y) / 2.0) + 1e-3;
        }
    double dt_over_h = 1e-4 / h;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) {
                int k = (j + 1) * s + i + 1;
                aux[k] = kappa * pow(f[k], gamma);
            }
        /* South boundary face of row 0: zero flux. */
        memset(fs, 0, n * sizeof *fs);
        for (int j = 0; j < n; j++) {
            int k = (j + 1) * s + 1;
            faces(n + 1, xfaces, f + k - 1, f + k, aux + k - 1, aux + k, d_over_h, fx);
            fx[0] = 0.0;
            fx[n] = 0.0;
            if (j + 1 < n)
                for (int i = 0; i < n; i++) {
                    double yf = xfaces[j + 1];
                    double al = aux[k + i], ar = aux[k + s + i];
                    double kp = d_over_h + fmax(-yf, 0.0) * (1.0 + al);
                    double km = d_over_h + fmax(yf, 0.0) * (1.0 + ar);
                    fn[i] = kp * f[k + i] - km * f[k + s + i];
                }
            else
                memset(fn, 0, n * sizeof *fn);
            for (int i = 0; i < n; i++)
                out[k + i] = f[k + i] + dt_over_h * ((fx[i] - fx[i + 1]) + (fs[i] - fn[i]));
            double *t = fs;
            fs = fn;
            fn = t;
        }
        times[r] = now() - t0;
    }
    volatile double sink = out[(n / 2 + 1) * s + n / 2 + 1];
    (void)sink;
    qsort(times + 1, reps, sizeof *times, cmp);
    double cells = (double)n * n;
    printf("%.3f %.3f\n", cells / times[1] / 1e6, cells / times[1 + reps / 2] / 1e6);
    return 0;
}
