-- The s-curve ablation of the Keras s-curve VAE ablation notebook
-- (docs/experiments.md): a VAE on 300 points of a 2-D "S" whose true 1-D
-- parameter x is known, so we can measure whether the latent recovers it.
-- Writes history.tsv, summary.tsv and five charts into --out (results/scurve).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/lib/?.lua;" .. package.path
local common = require "common"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local vae = common.load_vae()

-- The notebook's sequence of runs (docs/experiments.md). All Adam; validation on the
-- training set; loss per example averaged over the batch.
local CONFIGS = {
  A = { likelihood = "bernoulli", kl = true, latent = 1, layers = 1, width = 100, act = "relu", output = "sigmoid", dropout = 0.2, lr = 1e-3, batch = 32, epochs = 500 },
  B = { likelihood = "mse", kl = true, latent = 1, layers = 5, width = 40, act = "relu", output = "tanh", dropout = 0.2, lr = 1e-4, batch = 200, epochs = 500 },
  C = { likelihood = "mse", kl = true, latent = 1, layers = 2, width = 20, act = "relu", output = "tanh", dropout = 0, lr = 1e-3, batch = 200, epochs = 50 },
  D = { likelihood = "mse", kl = true, latent = 10, layers = 2, width = 20, act = "relu", output = "tanh", dropout = 0, lr = 1e-3, batch = 200, epochs = 100 },
  E = { likelihood = "mse", kl = true, latent = 2, layers = 2, width = 20, act = "relu", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  F = { likelihood = "mse", kl = true, latent = 2, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  G = { likelihood = "mse", kl = false, latent = 2, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  H = { likelihood = "mse", kl = false, latent = 1, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 1000 },
  I = { likelihood = "mse", kl = false, latent = 1, layers = 2, width = 20, act = "relu", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 1000 },
}
local NAMES = { "A", "B", "C", "D", "E", "F", "G", "H", "I" }

local backend_names = {}
for _, b in ipairs(vae.backends()) do backend_names[#backend_names + 1] = b.name end

local opts = common.parse_args(arg, [[
usage: lua experiments/scurve.lua [options]

Trains one configuration (A..I) of the s-curve ablation of the Keras s-curve VAE
ablation notebook (docs/experiments.md) and writes history.tsv, summary.tsv and
the charts loss, embedding, full_embedding, prediction and inout (PNG, with their
gnuplot scripts) into --out.
Config A: BCE + KL, latent 1, 1 x 100 relu, sigmoid output, dropout 0.2, lr 1e-3,
batch 32, 500 epochs.  H and I: MSE without KL (plain autoencoders).]], {
  { name = "config", default = "A", help = "which run of the notebook: A..I", check = common.one_of(NAMES) },
  { name = "seed", default = 1, help = "seed of the data, initialisation, order and noise", check = common.nonneg_int },
  { name = "epochs", help = "override the config's epoch count", check = common.positive_int },
  { name = "backend", default = "naive", help = "compute backend: " .. table.concat(backend_names, ", "), check = common.one_of(backend_names) },
  { name = "threads", default = 0, help = "threads for backends that have them (0 = all cores)", check = common.nonneg_int },
  { name = "out", default = "results/scurve", help = "output directory" },
  { name = "no-charts", flag = true, help = "write the tables only" },
  { name = "quiet", flag = true, help = "no progress lines" },
})

local t_start = vae.clock()
local cfg = CONFIGS[opts.config]
local epochs = opts.epochs or cfg.epochs
local hidden = {}
for i = 1, cfg.layers do hidden[i] = cfg.width end

local data = vae.data.scurve { n = 300, seed = opts.seed }
local model_config = {
  input = 2, latent = cfg.latent, hidden = hidden, activation = cfg.act,
  output = cfg.output, likelihood = cfg.likelihood, kl = cfg.kl, dropout = cfg.dropout,
  head = "logvar", init = "xavier", backend = opts.backend, threads = opts.threads,
  seed = opts.seed,
}
local model, err = vae.model(model_config)
if not model then
  io.stderr:write("error: ", err, "\n")
  os.exit(1)
end

local fit_opts = { epochs = epochs, batch = cfg.batch, lr = cfg.lr, validation = data }
local every = math.max(1, epochs // 10)
fit_opts.on_epoch = function(rec)
  if not opts.quiet and (rec.epoch % every == 0 or rec.epoch == epochs) then
    io.stderr:write(string.format("config %s  epoch %4d/%d  loss %.5f  val %.5f  recon %.5f  kl %.5f\n",
      opts.config, rec.epoch, epochs, rec.loss, rec.val_loss, rec.recon, rec.kl))
  end
end
local history, ferr = model:fit(data, fit_opts)
if not history then
  io.stderr:write("error: ", ferr, "\n")
  os.exit(1)
end
local train_seconds = 0
for _, rec in ipairs(history) do train_seconds = train_seconds + rec.seconds end

-- Measures: reconstruction error of encode-decode of the means (mean over points
-- and both coordinates), and |Spearman| between the first latent mean and x.
local X = data.x:totable()
local truth = data.t:col(1)
local mu = model:encode(data)
local mu1 = mu:col(1)
local recon = model:reconstruct(data):totable()
local sq = 0
for i = 1, #X do
  for j = 1, 2 do sq = sq + (recon[i][j] - X[i][j]) ^ 2 end
end
local recon_mse = sq / (2 * #X)
local rho = math.abs(stats.spearman(mu1, truth))
local final = history[#history]

common.mkdir(opts.out)
local meta = {
  experiment = "scurve (seed 004 ablation)", config = opts.config .. " " .. common.render(cfg),
  backend = opts.backend, seed = opts.seed, epochs = epochs,
  model = common.render(model_config), loss = "per example, averaged over the batch; "
    .. (cfg.likelihood == "mse" and "mse is the summed squared error, not a normalised likelihood"
        or "bernoulli is the summed binary cross-entropy"),
}
local rows = {}
for _, rec in ipairs(history) do
  rows[#rows + 1] = { rec.epoch, rec.loss, rec.val_loss, rec.recon, rec.kl, rec.seconds }
end
results.write_tsv(opts.out .. "/history.tsv", meta,
  { "epoch", "train_loss", "val_loss", "recon", "kl", "seconds" }, rows)

-- Chart tables: embedding (data, latent mean, truth), the 100x100 grid of latent
-- means, the decoded line t in [-1, 1] (other latents 0), data and reconstruction.
local emb = {}
for i = 1, #X do emb[i] = { X[i][1], X[i][2], mu1[i], truth[i] } end
results.write_tsv(opts.out .. "/embedding.tsv", meta, { "x0", "x1", "mu1", "true_x" }, emb)

local grid_n = 100
local grid = vae.matrix(grid_n * grid_n, 2)
for a = 0, grid_n - 1 do
  for b = 0, grid_n - 1 do
    grid:set(a * grid_n + b + 1, 1, b / (grid_n - 1))
    grid:set(a * grid_n + b + 1, 2, a / (grid_n - 1))
  end
end
local gmu = model:encode(grid):col(1)
local grows = {}
for k = 1, grid_n * grid_n do grows[k] = { grid:get(k, 1), grid:get(k, 2), gmu[k] } end
results.write_tsv(opts.out .. "/full_embedding.tsv", meta, { "x0", "x1", "mu1" }, grows)

local line_n = 100
local zl = vae.matrix(line_n, cfg.latent)
for k = 1, line_n do zl:set(k, 1, -1 + 2 * (k - 1) / (line_n - 1)) end
local pred = model:decode(zl):totable()
local prows = {}
for k = 1, line_n do prows[k] = { zl:get(k, 1), pred[k][1], pred[k][2] } end
results.write_tsv(opts.out .. "/prediction.tsv", meta, { "t", "out0", "out1" }, prows)

local io_rows = {}
for i = 1, #X do io_rows[i] = { X[i][1], X[i][2], recon[i][1], recon[i][2] } end
results.write_tsv(opts.out .. "/inout.tsv", meta, { "x0", "x1", "recon0", "recon1" }, io_rows)

local wall = vae.clock() - t_start
results.write_tsv(opts.out .. "/summary.tsv", meta,
  { "config", "seed", "backend", "final_loss", "final_val_loss", "recon_mse", "spearman_abs",
    "wall_seconds", "train_seconds" },
  { { opts.config, opts.seed, opts.backend, final.loss, final.val_loss, recon_mse, rho, wall,
      train_seconds } })

print(string.format("config %s seed %d backend %s: loss %.5f  val %.5f  recon mse %.5f  |spearman| %.3f  train %.3f s  wall %.3f s (before charts)",
  opts.config, opts.seed, opts.backend, final.loss, final.val_loss, recon_mse, rho, train_seconds, wall))

if not opts["no-charts"] then
  local title = string.format("s-curve config %s (seed %d, %s)", opts.config, opts.seed, opts.backend)
  local common_gp = "set datafile separator tab\nset datafile columnheaders\n" .. plot.viridis .. "\n"
  local charts = {
    loss = common_gp .. string.format([[
set title "%s: loss per example"
set xlabel "epoch"; set ylabel "loss (nats or summed squared error)"
set key top right
plot 'history.tsv' using 1:2 with lines lw 2 title 'train', \
     '' using 1:3 with lines lw 2 title 'validation']], title),
    embedding = common_gp .. string.format([[
set title "%s: embedding (data coloured by encoder mean)"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
set cblabel "mean of z_1"
plot 'embedding.tsv' using 1:2:3 with points pt 7 ps 0.8 palette notitle]], title),
    full_embedding = common_gp .. string.format([[
set title "%s: full embedding (encoder mean over the unit square)"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [0:1]; set yrange [0:1]
set cblabel "mean of z_1"
plot 'full_embedding.tsv' using 1:2:3 with image notitle, \
     'embedding.tsv' using 1:2 with points pt 6 ps 0.5 lc rgb 'white' title 'data']], title),
    prediction = common_gp .. string.format([[
set title "%s: prediction (decoder output for z_1 in [-1, 1])"
set xlabel "output 0"; set ylabel "output 1"; set size ratio -1
set cblabel "z_1"
plot 'embedding.tsv' using 1:2 with points pt 7 ps 0.4 lc rgb '#bbbbbb' title 'data', \
     'prediction.tsv' using 2:3:1 with points pt 7 ps 1 palette title 'decoded']], title),
    inout = common_gp .. string.format([[
set title "%s: data and its encode-decode image"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'inout.tsv' using 1:2 with points pt 7 ps 0.6 lc rgb '#1f77b4' title 'original', \
     '' using 3:4 with points pt 7 ps 0.6 lc rgb '#ff7f0e' title 'after encode/decode']], title),
  }
  for _, name in ipairs { "loss", "embedding", "full_embedding", "prediction", "inout" } do
    local ok, perr = plot.draw(opts.out, name, charts[name])
    if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
  end
end
