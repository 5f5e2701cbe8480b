-- Charts: each chart is a gnuplot script written next to the tables it reads,
-- then run, so a chart can always be redrawn from the committed tables with
-- `gnuplot NAME.gp` inside its directory.
local M = {}

M.terminal = "set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'"

-- viridis, defined by points (gnuplot 5.4 has no built-in viridis)
M.viridis = "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')"

function M.available()
  local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- Writes dir/name.gp (body drawn into name.png) and runs gnuplot in dir.
-- Returns true, or false and a message.
function M.draw(dir, name, body)
  local script = table.concat({
    "# drawn by experiments/lib/plot.lua; redraw with: gnuplot " .. name .. ".gp",
    M.terminal,
    "set output '" .. name .. ".png'",
    body,
    "unset output",
  }, "\n") .. "\n"
  local f, err = io.open(dir .. "/" .. name .. ".gp", "w")
  if not f then return false, err end
  f:write(script)
  f:close()
  if not M.available() then return false, "gnuplot is not installed" end
  local ok = os.execute("cd '" .. dir .. "' && gnuplot " .. name .. ".gp")
  if ok ~= true and ok ~= 0 then return false, "gnuplot failed on " .. dir .. "/" .. name .. ".gp" end
  return true
end

return M
