-- The MNIST ablation on the classic 784-400-20 model: likelihood (Bernoulli =
-- BCE, Gaussian with fixed variance 1/2 = the summed squared error, continuous
-- Bernoulli) x KL (on, off) x dropout (0, 0.2), 3 seeds: 10 epochs on the 60000
-- training images, scored on the 10000 test images, log p(x) with k = 100 (the
-- 1-NN digit accuracy uses the first 1000 test and 2000 training images; see
-- experiments/mnist.lua). report() draws one grid image of prior samples and one of
-- reconstructions, a panel per cell at its median seed by test BCE.
local function report(ctx)
  local sweep, out, results, experiment, plot = ctx.sweep, ctx.out, ctx.results,
    ctx.experiment, ctx.plot
  local images = require "images"
  local panels = {}
  for _, c in ipairs(sweep.configs) do
    local pick = ctx.median_job(c.name, "test_bce")
    if pick then
      local dir = out .. "/median/" .. c.name
      experiment.mkdir(dir)
      local have = true
      for _, kind in ipairs { "samples", "reconstructions" } do
        local f = io.open(ctx.job_dir(pick.job) .. "/run/" .. kind .. ".u8", "rb")
        if f then
          local bytes = f:read("a")
          f:close()
          results.write_file(dir .. "/" .. kind .. ".u8", { bytes }, true)
        else
          have = false
        end
      end
      if have then panels[#panels + 1] = { name = c.name, seed = pick.job.seed } end
    end
  end
  if ctx.no_charts or #panels == 0 then return end
  local ncol = 4
  local nrow = (#panels + ncol - 1) // ncol
  -- 8 x 8 tiles of 28 px with a 2 px gap (experiments/mnist.lua's grids)
  local W = 8 * 28 + 9 * 2
  local what = { samples = "decoded means of 64 prior samples",
    reconstructions = "32 test images (odd rows) and their reconstructions (even rows)" }
  for _, kind in ipairs { "samples", "reconstructions" } do
    local lines = {
      string.format("set terminal pngcairo size %d,%d enhanced font 'DejaVu Sans,9'", 280 * ncol, 300 * nrow + 40),
      images.style,
      string.format("set multiplot layout %d,%d title %s", nrow, ncol,
        plot.quote("MNIST sweep: " .. what[kind] .. " per cell (median seed by test BCE)")),
    }
    for _, p in ipairs(panels) do
      lines[#lines + 1] = "set title " .. plot.quote(string.format("%s (seed %d)", p.name, p.seed))
      lines[#lines + 1] = images.plot_command("median/" .. p.name .. "/" .. kind .. ".u8", W, W)
    end
    lines[#lines + 1] = "unset multiplot"
    local ok, err = plot.draw(out, "grid_" .. kind, table.concat(lines, "\n"), nil)
    if not ok then io.stderr:write("warning: grid ", kind, " not drawn: ", err, "\n") end
  end
end

local experiment = require "experiment"
return {
  experiment = "mnist",
  about = "classic 784-400-20: likelihood x KL x dropout, 3 seeds; 60000 training images, 10 epochs, 10000 test images, log p(x) k=100",
  seeds = 3,
  checkpoint_every = 5, -- a killed job resumes at epoch 5 instead of starting over
  options = { config = "classic", epochs = 10, k = 100,
    backend = experiment.fastest(experiment.load_vae()) },
  grid = {
    { key = "likelihood", values = { "bernoulli", "gaussian_fixed", "cbernoulli" }, labels = { "bern", "gauss", "cbern" } },
    { key = "kl", values = { true, false }, labels = { "KL", "noKL" } },
    { key = "dropout", values = { 0, 0.2 }, labels = { "d0", "d0.2" } },
  },
  metrics = { "val_loss", "test_bce", "test_mse", "val_kl", "active_units", "knn_accuracy", "val_logpx" },
  report = report,
}
