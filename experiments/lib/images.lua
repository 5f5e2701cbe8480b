-- Image grids for gnuplot: tiles (rows of pixel values in [0, 1]) laid out on a
-- grid with a gap, written as raw bytes (value * 255; the gap mid-grey) that
-- gnuplot reads with `binary array=(W,H) format='%uchar'`. A 15x15 grid of 28x28
-- digits is 190 KB where a text matrix would be about 1 MB.
local results = require "results"
local M = {}

-- tiles: a list of pixel tables (h*w values each, row-major). Returns width, height.
function M.write_grid(path, tiles, ncols, h, w, gap)
  gap = gap or 2
  local nrows = (#tiles + ncols - 1) // ncols
  local W, H = ncols * w + (ncols + 1) * gap, nrows * h + (nrows + 1) * gap
  local px = {}
  for i = 1, W * H do px[i] = 128 end
  for t, tile in ipairs(tiles) do
    local r, c = (t - 1) // ncols, (t - 1) % ncols
    local y0, x0 = gap + r * (h + gap), gap + c * (w + gap)
    for y = 0, h - 1 do
      local base = (y0 + y) * W + x0
      for x = 0, w - 1 do
        local v = tile[y * w + x + 1]
        if v then -- a missing tile keeps the gap colour; NaN shows black
          v = v ~= v and 0 or math.max(0, math.min(1, v))
          px[base + x + 1] = math.floor(v * 255 + 0.5)
        end
      end
    end
  end
  local parts, chunk = {}, 4096
  for i = 1, #px, chunk do
    parts[#parts + 1] = string.char(table.unpack(px, i, math.min(#px, i + chunk - 1)))
  end
  results.write_bytes(path, parts) -- atomic; bytes carry no header
  return W, H
end

-- The gnuplot lines that draw a grid file written by write_grid (file name
-- relative to the chart's directory), grey, top row first, square pixels.
function M.plot_command(file, W, H)
  return string.format("plot '%s' binary array=(%d,%d) format='%%uchar' flipy with image notitle",
    file, W, H)
end

M.style = [[
set palette gray
set cbrange [0:255]
unset colorbox
unset border
unset tics
unset key
set size ratio -1
set margins 1,1,1,3]]

return M
