-- fp32 against bf16 (precision key: bf16 operands, fp32 sums, fp32 weights and
-- Adam) on the classic 784-400-20 MNIST model: 10 epochs on the 60000 training
-- images, scored on the 10000 test images (log p(x) with k = 100), 3 seeds, on
-- every backend that runs bf16 on this machine. report() pairs each bf16 job with
-- the fp32 job of the same backend and seed: precision.tsv (the differences) and
-- precision.md. Speed is not measured here (the jobs share the cores): `make
-- bench` times the epoch per backend and precision.
local experiment = require "experiment"
local vae = experiment.load_vae()

local with_bf16 = {}
for _, b in ipairs(vae.backends()) do
  if vae.backend_usable(b.name, "bf16") then with_bf16[#with_bf16 + 1] = b.name end
end
if #with_bf16 == 0 then
  local _, why = vae.backend_usable(vae.backends()[1].name, "bf16")
  error("sweep precision: no backend runs bf16 on this machine (" .. tostring(why) .. ")", 0)
end

local METRICS = { "val_loss", "test_bce", "val_logpx" }

local function report(ctx)
  local merged, out, results, stats = ctx.merged, ctx.out, ctx.results, ctx.stats
  -- job rows by backend, precision and seed
  local by = {}
  for _, r in ipairs(merged.rows) do
    local b, p = r.job.config.options.backend, r.job.config.sets.precision
    by[b] = by[b] or { fp32 = {}, bf16 = {} }
    by[b][p][r.job.seed] = r.row
  end
  local rows, lines = {}, {
    "| backend | metric | fp32 mean | bf16 mean | bf16 - fp32: mean | sd | min | max | seeds |",
    "|---|---|---|---|---|---|---|---|---|",
  }
  for _, b in ipairs(with_bf16) do
    for _, metric in ipairs(METRICS) do
      local d, f, h = {}, {}, {}
      for seed, r16 in pairs(by[b] and by[b].bf16 or {}) do
        local r32 = by[b].fp32[seed]
        local x, y = r32 and tonumber(r32[metric]), tonumber(r16[metric])
        if x and y then
          d[#d + 1], f[#f + 1], h[#h + 1] = y - x, x, y
          rows[#rows + 1] = { b, metric, seed, x, y, y - x }
        end
      end
      if #d > 0 then
        lines[#lines + 1] = string.format("| %s | %s | %.3f | %.3f | %+.3f | %.3f | %+.3f | %+.3f | %d |", b, metric,
          stats.mean(f), stats.mean(h), stats.mean(d), stats.sd(d),
          math.min(table.unpack(d)), math.max(table.unpack(d)), #d)
      end
    end
  end
  table.sort(rows, function(a, c)
    if a[1] ~= c[1] then return a[1] < c[1] end
    if a[2] ~= c[2] then return a[2] < c[2] end
    return a[3] < c[3]
  end)
  local meta = { experiment = "sweep precision: fp32 against bf16, paired by backend and seed",
    metrics = "val_loss: test loss (nats per image); test_bce: the decoder mean's BCE; "
      .. "val_logpx: importance-weighted log p(x), k = 100" }
  results.write_tsv(out .. "/precision.tsv", meta, { "backend", "metric", "seed", "fp32", "bf16", "bf16_minus_fp32" }, rows)
  results.write_file(out .. "/precision.md", { table.concat(lines, "\n"), "\n" })
end

return {
  experiment = "mnist",
  about = "classic 784-400-20 in fp32 and bf16 on each backend that runs bf16 here (" .. table.concat(with_bf16, ", ")
    .. "); 10 epochs on 60000 training images, 10000 test images, log p(x) k=100, 3 seeds",
  seeds = 3,
  checkpoint_every = 5,
  options = { config = "classic", epochs = 10, k = 100 },
  grid = {
    { key = "backend", values = with_bf16 },
    { key = "precision", values = { "fp32", "bf16" } },
  },
  metrics = METRICS,
  report = report,
}
