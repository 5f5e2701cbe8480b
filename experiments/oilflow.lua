-- Oil flow: the MXFusion VAE tutorial's model on the three-phase oil flow data
-- (data/oilflow/), scored by the yardstick of that literature: the leave-one-out
-- 1-nearest-neighbour error count in the 2-D latent space, beside PCA to 2-D and
-- the raw 12-D data. run(opts) trains one config (or --seeds N of them) and
-- writes history.tsv, summary.tsv, latent.tsv (and seeds.tsv) and the charts
-- into the output folder (results/oilflow/<config>/); it returns the summary.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local oil = require "oilflow_data"
local vae = experiment.load_vae()

local M = { vae = vae, regimes = oil.regimes }

-- The tutorial's model (docs/experiments.md): 12-50-50-2 tanh encoder giving the
-- mean only, ONE learned posterior variance (1e-6 at first), a mirrored decoder
-- with a linear output and ONE learned noise variance (0.01 at first), Xavier
-- magnitude 3, 3 samples of z per point, Adam 1e-2 on the full batch, 2000
-- iterations (one full-batch step per epoch). `best` is the best of the small
-- study in README ("Oil flow"): what changes is listed in its `changes`.
local BASE = {
  model = { input = 12, latent = 2, hidden = { 50, 50 }, activation = "tanh", output = "linear",
    head = "shared", posterior_var = 1e-6, likelihood = "gaussian_learned", noise_var = 0.01,
    samples = 3, init = "xavier", init_magnitude = 3 },
  lr = 1e-2, epochs = 2000,
}
M.CONFIGS = {
  seed = { about = "the MXFusion VAE tutorial's model: 12-50-50-2 tanh, shared posterior variance, "
    .. "learned noise variance, K = 3, Adam 1e-2, full batch, 2000 iterations", changes = {} },
  -- the study (README): iterations are what matters; a KL warm-up, a per-point
  -- variance head or a smaller KL weight did not beat 10000 plain iterations
  best = { about = "the tutorial's model trained for 10000 iterations instead of 2000",
    changes = { epochs = 10000 } },
}
M.NAMES = { "seed", "best" }

function M.config(name)
  local cfg = M.CONFIGS[name]
  local model = {}
  for k, v in pairs(BASE.model) do model[k] = v end
  for k, v in pairs(cfg.changes.model or {}) do model[k] = v end
  return { about = cfg.about, model = model, lr = cfg.changes.lr or BASE.lr,
    epochs = cfg.changes.epochs or BASE.epochs, changes = cfg.changes }
end

M.usage = [[
usage: lua experiments/oilflow.lua [--config seed|best] [--subset all|100] [--seeds N] [options]

Trains the MXFusion VAE tutorial's model (--config seed, the default) or the best
config of our study (--config best) on the three-phase oil flow data (Bishop and
James 1993; data/oilflow/, sha256-checked) and scores its 2-D latent means by the
leave-one-out 1-nearest-neighbour error count, beside PCA to 2-D and the raw
12-D data (Lawrence's GP-LVM papers report PCA 162, GTM 11, GP-LVM 1). It also
encodes the 1000 test points and counts their 1-NN errors against the training
latents. Writes history.tsv, summary.tsv, latent.tsv, seeds.tsv (--seeds) and the
charts loss, latent and latent_pca into results/oilflow/<config>/ for a run with
the default options, results/scratch/oilflow/<config>/ for any other, or --out.
With --seeds N, seeds 1..N are trained and seeds.tsv gets each one's error
counts and their mean, sd, min and max; the other files are seed 1's.]]

M.spec = {
  { name = "config", default = "seed", help = "seed (the tutorial's model) or best (see README)", check = experiment.one_of(M.NAMES) },
  { name = "subset", default = "all", help = "all (the 1000 training points) or 100 (the tutorial's oil_100)", check = experiment.one_of { "all", "100" } },
  { name = "epochs", help = "override the config's iteration count (full batch: an epoch is an iteration)", check = experiment.positive_int },
  { name = "seeds", neutral = true, help = "train seeds 1..N and write seeds.tsv (the other files: seed 1's)", check = experiment.positive_int },
  { name = "data", neutral = true, help = "directory of the oil flow files (default: data/oilflow)" },
}
for _, s in ipairs(experiment.common_options(vae, {
    seed_help = "seed of the initialisation and the noise of z",
    out_help = "output folder (default: results/oilflow/<config>/, see above)" })) do
  M.spec[#M.spec + 1] = s
end

-- A list of rows' first two columns from a matrix.
local function rows2(m)
  local t = {}
  for i = 1, m:rows() do t[i] = { m:get(i, 1), m:get(i, 2) } end
  return t
end

-- Trains one seed. Returns { model=, history= (with noise_var and
-- posterior_var per epoch), train_seconds=, errors=, test_errors=, mu= } or nil, message.
local function train_one(opts, cfg, seed, train, test, label)
  local model_config = { backend = opts.backend, seed = seed }
  for k, v in pairs(cfg.model) do model_config[k] = v end
  local fit_opts = { epochs = opts.epochs or cfg.epochs, batch = "full", lr = cfg.lr }
  experiment.apply_sets(vae, opts.set, model_config, fit_opts)
  experiment.apply_checkpoint(opts, fit_opts)
  local epochs = fit_opts.epochs
  local model, merr = vae.model(model_config)
  if not model then return nil, merr end
  -- a line every 200 iterations; on a terminal a bar between them
  local bar, show = experiment.progress { vae = vae, label = label, epochs = epochs,
    rows = train.x:rows(), every = 200, quiet = opts.quiet }
  local variances = {}
  fit_opts.on_batch = bar
  fit_opts.on_epoch = function(rec)
    local info = model:info() -- the learned variances after this epoch's step
    variances[rec.epoch] = { info.noise_var, info.posterior_var }
    if show then show(rec) end
  end
  local history, ferr = model:fit(train.x, fit_opts)
  if not history then model:close(); return nil, ferr end
  for _, r in ipairs(history) do
    local v = variances[r.epoch]
    r.noise_var, r.posterior_var = v[1], v[2]
  end
  local _, train_seconds = results.timing(history)
  local mu = rows2(model:encode(train.x))
  local mu_test = rows2(model:encode(test.x))
  local errors = stats.knn1_errors(mu, train.labels)
  local test_errors = stats.knn1_errors(mu_test, test.labels, mu, train.labels)
  return { model = model, history = history, train_seconds = train_seconds, errors = errors,
    test_errors = test_errors, mu = mu, epochs = epochs, model_config = model_config }
end

function M.run(given)
  local opts = experiment.check_options(M.spec, given)
  local t_start = vae.clock()
  local cfg = M.config(opts.config)
  local dir = oil.dir(opts.data)
  local train, derr = oil.load(dir, "Trn", opts.subset)
  if not train then return nil, derr end
  local test
  test, derr = oil.load(dir, "Tst", "all")
  if not test then return nil, derr end
  local n = train.x:rows()
  vae.set_threads(opts.threads) -- process-level: every backend's pool

  -- the yardsticks that do not depend on the model
  local t_knn = vae.clock()
  local X = train.x:totable()
  local pca, shares = stats.pca2(X)
  local pca_errors = stats.knn1_errors(pca, train.labels)
  local raw_errors = stats.knn1_errors(X, train.labels)
  local raw_test_errors = stats.knn1_errors(test.x:totable(), test.labels, X, train.labels)
  local knn_seconds = vae.clock() - t_knn

  if opts.checkpoint and opts.seeds then return nil, "--checkpoint trains one seed: drop --seeds" end
  local seeds = opts.seeds and {} or nil
  local first
  for s = 1, opts.seeds or 1 do
    local seed = opts.seeds and s or opts.seed
    local label = string.format("oilflow %s (seed %d)", opts.config, seed)
    local r, err = train_one(opts, cfg, seed, train, test, label)
    if not r then return nil, err end
    if seeds then
      local last = r.history[#r.history]
      seeds[#seeds + 1] = { seed, r.errors, r.test_errors, last.loss, last.noise_var,
        last.posterior_var, r.train_seconds }
      io.stdout:write(string.format("seed %d: %d 1-NN errors on the training latents, %d on the test points; loss %.4f  %.2f s\n",
        seed, r.errors, r.test_errors, last.loss, r.train_seconds))
    end
    if s == 1 then first = r else r.model:close() end
  end
  local history, model = first.history, first.model
  local final = history[#history]

  local out, why = experiment.output_dir(M.spec, opts, "oilflow", opts.config)
  experiment.mkdir(out)
  local meta = {
    experiment = "oilflow (the MXFusion VAE tutorial's model on the oil flow data)",
    config = opts.config .. ": " .. cfg.about .. " " .. experiment.render(cfg.changes),
    backend = opts.backend, seed = opts.seeds and 1 or opts.seed, epochs = first.epochs,
    model = model:config_text(),
    data = string.format("%s: %d training points (%s), 1000 test points; sha256-checked",
      experiment.display(dir), n, opts.subset == "100" and "the oil_100 subset" or "all"),
    validation = "none (the yardstick is the 1-NN error count)",
    loss = "-ELBO per point in nats (Gaussian likelihood with the learned noise variance), "
      .. "full batch: an epoch is one iteration",
    knn = "leave-one-out 1-nearest-neighbour error count, Euclidean; test: test points against the training points",
  }
  if #opts.set > 0 then meta.set = table.concat(opts.set, " ") end
  if opts.seeds then
    meta.seeds = string.format("seeds 1..%d (seeds.tsv); the other tables and the charts are seed 1's; "
      .. "wall_seconds covers every seed", opts.seeds)
  end

  local hcols = {}
  for i, c in ipairs(results.history_columns) do hcols[i] = c end
  hcols[#hcols + 1], hcols[#hcols + 2] = "noise_var", "posterior_var"
  local hrows = {}
  for i, r in ipairs(history) do
    hrows[i] = { r.epoch, r.loss, r.recon, r.kl, r.kl_weight, r.val_loss, r.val_recon, r.val_kl,
      r.seconds, r.noise_var, r.posterior_var }
  end
  results.write_tsv(out .. "/history.tsv", meta, hcols, hrows)

  local lrows = {}
  for i = 1, n do
    lrows[i] = { first.mu[i][1], first.mu[i][2], pca[i][1], pca[i][2], train.labels[i] }
  end
  results.write_tsv(out .. "/latent.tsv", meta, { "z1", "z2", "pc1", "pc2", "regime" }, lrows)

  local seed_stats
  if seeds then
    local e, te = {}, {}
    for i, row in ipairs(seeds) do e[i], te[i] = row[2], row[3] end
    seed_stats = { mean = stats.mean(e), sd = stats.sd(e), min = math.min(table.unpack(e)),
      max = math.max(table.unpack(e)), test_mean = stats.mean(te), test_sd = stats.sd(te),
      test_min = math.min(table.unpack(te)), test_max = math.max(table.unpack(te)) }
    local rows = {}
    for i, row in ipairs(seeds) do rows[i] = row end
    local function agg(name, a, b)
      rows[#rows + 1] = { name, a, b, nil, nil, nil, nil }
    end
    agg("mean", seed_stats.mean, seed_stats.test_mean)
    agg("sd", seed_stats.sd, seed_stats.test_sd)
    agg("min", seed_stats.min, seed_stats.test_min)
    agg("max", seed_stats.max, seed_stats.test_max)
    results.write_tsv(out .. "/seeds.tsv", meta, { "seed", "knn_errors_vae", "test_knn_errors_vae",
      "train_loss", "noise_var", "posterior_var", "train_seconds" }, rows)
  end

  local seconds_per_epoch = results.timing(history)
  local summary = {
    experiment = "oilflow", config = opts.config, seed = meta.seed, backend = opts.backend,
    threads = opts.threads, epochs = first.epochs, train_loss = final.loss,
    subset = opts.subset, points = n,
    knn_errors_vae = first.errors, knn_errors_pca2 = pca_errors, knn_errors_raw12 = raw_errors,
    test_knn_errors_vae = first.test_errors, test_knn_errors_raw12 = raw_test_errors,
    pca2_variance_share = shares[1] + shares[2],
    noise_var = final.noise_var, posterior_var = final.posterior_var,
    seeds = opts.seeds or 1,
    seeds_mean = seed_stats and seed_stats.mean, seeds_sd = seed_stats and seed_stats.sd,
    seeds_min = seed_stats and seed_stats.min, seeds_max = seed_stats and seed_stats.max,
    knn_seconds = knn_seconds,
    seconds_per_epoch = seconds_per_epoch, train_seconds = first.train_seconds,
    wall_seconds = vae.clock() - t_start, peak_rss_mb = experiment.peak_rss_mb(),
  }
  local own = { "subset", "points", "knn_errors_vae", "knn_errors_pca2", "knn_errors_raw12",
    "test_knn_errors_vae", "test_knn_errors_raw12", "pca2_variance_share", "noise_var",
    "posterior_var", "seeds", "seeds_mean", "seeds_sd", "seeds_min", "seeds_max", "knn_seconds" }
  results.write_summary(out .. "/summary.tsv", meta, summary, own)

  io.stdout:write(string.format("oilflow %s (%s, %d points, %d iterations, %s): 1-NN errors: VAE %d, PCA %d, raw 12-D %d; test vs train: VAE %d, raw %d%s  train %.2f s  wall %.2f s (before charts)\n",
    opts.config, opts.subset, n, first.epochs, opts.backend, first.errors, pca_errors, raw_errors,
    first.test_errors, raw_test_errors,
    seed_stats and string.format("; over %d seeds: mean %.1f sd %.1f min %d max %d", #seeds,
      seed_stats.mean, seed_stats.sd, seed_stats.min, seed_stats.max) or "",
    first.train_seconds, summary.wall_seconds))

  if not opts["no-charts"] then M.charts(out, meta, opts, first, summary, shares) end
  model:close()
  summary.out = out
  io.stdout:write("wrote ", experiment.display(out), "/ (", why, ")\n")
  return summary
end

function M.charts(out, meta, opts, first, summary, shares)
  local title = string.format("oil flow %s (%s points, %d iterations, seed %d)", opts.config,
    summary.points, first.epochs, summary.seed)
  local classes = {}
  for i, name in ipairs(oil.regimes) do classes[i] = { value = i, name = name } end
  local function latent(t, x, y, xl, yl)
    return plot.class_chart { file = "latent.tsv", x = x, y = y, class = "regime", classes = classes,
      title = t, xlabel = xl, ylabel = yl, point_size = 0.5 }
  end
  local vae_title = string.format("VAE latent means (1-NN errors: %d)", summary.knn_errors_vae)
  local pca_title = string.format("PCA to 2-D (1-NN errors: %d)", summary.knn_errors_pca2)
  local charts = {
    loss = table.concat({
      plot.tsv,
      "set title " .. plot.quote(title .. ": loss and learned noise variance"),
      "set xlabel \"iteration (full batch)\"; set ylabel \"-ELBO per point (nats)\"",
      "set y2label \"noise variance\"; set y2tics; set ytics nomirror; set logscale y2",
      plot.epoch_range(first.epochs),
      "set key outside below; set grid",
      "plot 'history.tsv' using \"epoch\":\"train_loss\" with lines lw 2 title 'loss (train)', \\",
      "     '' using \"epoch\":\"noise_var\" axes x1y2 with lines lw 2 title 'noise variance', \\",
      "     '' using \"epoch\":\"posterior_var\" axes x1y2 with lines lw 2 title 'posterior variance'",
    }, "\n"),
    latent = latent(title .. ": " .. vae_title, "z1", "z2", "z_1", "z_2"),
    latent_pca = "set terminal pngcairo size 1400,600 enhanced font 'DejaVu Sans,11'\n"
      .. "set multiplot layout 1,2 title " .. plot.quote(title) .. "\n"
      .. latent(vae_title, "z1", "z2", "z_1", "z_2") .. "\n"
      .. latent(pca_title, "pc1", "pc2",
        string.format("principal component 1 (%.0f%% of variance)", 100 * shares[1]),
        string.format("principal component 2 (%.0f%% of variance)", 100 * shares[2])) .. "\n"
      .. "unset multiplot",
  }
  for _, name in ipairs { "loss", "latent", "latent_pca" } do
    local ok, perr = plot.draw(out, name, charts[name], meta)
    if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
  end
end

if experiment.is_main() then os.exit(experiment.main(M, arg)) end
return M
