"""The SystemVerilog custom-logic top for the AWS F1 shell, and a small stand-in for the shell.

`cl_tickgate.sv` wraps the Amaranth `ClCore` (module `tickgate_core`) in the shell's port conventions:

- ports: `cl_ports.vh` of the HDK (`module cl_tickgate (`include "cl_ports.vh")`); with TICKGATE_STANDALONE
  defined (Verilator lint and simulation here, where the HDK is not) the same names for the interfaces the
  design uses are declared explicitly instead;
- `clk_main_a0` clocks everything (recipe A1: 250 MHz); `rst_main_n` (active low) or a function-level reset
  (`sh_cl_flr_assert`) becomes the design's active-high synchronous `rst` through two flops, and
  `cl_sh_flr_done` pulses once the reset has been applied;
- OCL AXI-Lite (`sh_ocl_*` / `ocl_sh_*`, BAR0) goes to the register block, the PCIS AXI-4 bus
  (`sh_cl_dma_pcis_*` / `cl_sh_dma_pcis_*`, BAR4) to the DMA bridge;
- `cl_sh_id0/1` are `protocol.f1_map.cl_sh_id0()/cl_sh_id1()`; `cl_sh_status0` is the register map's ID
  magic and `cl_sh_status1` its version; `cl_sh_status_vled` shows sticky DMA error flags (`VLED_BITS`);
- every other interface (DDR A/B/D and C, PCIM, SDA, BAR1, interrupts) is tied off with the shell's own
  `unused_*_template.inc` files in the HDK build.
"""

from __future__ import annotations

from tickgate.hdl.pcis import PcisCounts
from tickgate.protocol.f1_map import cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION

__all__ = ["CL_MODULE", "CORE_MODULE", "HDK_TEMPLATES", "SHELL_MODULE", "VLED_BITS", "cl_top", "module_head",
           "shell_standin"]

CL_MODULE = "cl_tickgate"
CORE_MODULE = "tickgate_core"
SHELL_MODULE = "tickgate_f1_shell"

#: `cl_sh_status_vled` bits: each set (until reset) once its PCIS counter has counted (`hdl.pcis.PcisCounts`).
VLED_BITS: tuple[str, ...] = tuple(PcisCounts.members)

#: The shell's tie-off templates for what this CL does not use (HDK build only).
HDK_TEMPLATES = ("unused_ddr_a_b_d_template.inc", "unused_ddr_c_template.inc", "unused_pcim_template.inc",
                 "unused_cl_sda_template.inc", "unused_sh_bar1_template.inc", "unused_apppf_irq_template.inc")

#: (direction seen from the CL, width, shell port, core port) of the AXI-Lite OCL interface.
OCL_PORTS: tuple[tuple[str, int, str, str], ...] = (
    ("input", 1, "sh_ocl_awvalid", "awvalid"), ("input", 32, "sh_ocl_awaddr", "awaddr"),
    ("output", 1, "ocl_sh_awready", "awready"),
    ("input", 1, "sh_ocl_wvalid", "wvalid"), ("input", 32, "sh_ocl_wdata", "wdata"),
    ("input", 4, "sh_ocl_wstrb", "wstrb"), ("output", 1, "ocl_sh_wready", "wready"),
    ("output", 1, "ocl_sh_bvalid", "bvalid"), ("output", 2, "ocl_sh_bresp", "bresp"),
    ("input", 1, "sh_ocl_bready", "bready"),
    ("input", 1, "sh_ocl_arvalid", "arvalid"), ("input", 32, "sh_ocl_araddr", "araddr"),
    ("output", 1, "ocl_sh_arready", "arready"),
    ("output", 1, "ocl_sh_rvalid", "rvalid"), ("output", 32, "ocl_sh_rdata", "rdata"),
    ("output", 2, "ocl_sh_rresp", "rresp"), ("input", 1, "sh_ocl_rready", "rready"),
)


def _pcis(name: str, width: int, into_cl: bool) -> tuple[str, int, str, str]:
    shell = f"sh_cl_dma_pcis_{name}" if into_cl else f"cl_sh_dma_pcis_{name}"
    return ("input" if into_cl else "output", width, shell, name)


#: The same for the PCIS AXI-4 interface (F1: 6-bit IDs, no AxBURST).
PCIS_PORTS: tuple[tuple[str, int, str, str], ...] = (
    _pcis("awid", 6, True), _pcis("awaddr", 64, True), _pcis("awlen", 8, True), _pcis("awsize", 3, True),
    _pcis("awvalid", 1, True), _pcis("awready", 1, False),
    _pcis("wdata", 512, True), _pcis("wstrb", 64, True), _pcis("wlast", 1, True), _pcis("wvalid", 1, True),
    _pcis("wready", 1, False),
    _pcis("bid", 6, False), _pcis("bresp", 2, False), _pcis("bvalid", 1, False), _pcis("bready", 1, True),
    _pcis("arid", 6, True), _pcis("araddr", 64, True), _pcis("arlen", 8, True), _pcis("arsize", 3, True),
    _pcis("arvalid", 1, True), _pcis("arready", 1, False),
    _pcis("rid", 6, False), _pcis("rdata", 512, False), _pcis("rresp", 2, False), _pcis("rlast", 1, False),
    _pcis("rvalid", 1, False), _pcis("rready", 1, True),
)

#: Ports of the CL top besides the two buses, as declared in standalone mode.
GLOBAL_PORTS: tuple[tuple[str, int, str], ...] = (
    ("input", 1, "clk_main_a0"), ("input", 1, "rst_main_n"),
    ("input", 1, "sh_cl_flr_assert"), ("output", 1, "cl_sh_flr_done"),
    ("output", 32, "cl_sh_status0"), ("output", 32, "cl_sh_status1"),
    ("output", 32, "cl_sh_id0"), ("output", 32, "cl_sh_id1"),
    ("output", 16, "cl_sh_status_vled"),
    ("output", 1, "cl_sh_dma_wr_full"), ("output", 1, "cl_sh_dma_rd_full"),
)


def _decl(direction: str, width: int, name: str) -> str:
    kind = "input  logic" if direction == "input" else "output logic"
    vec = f"[{width - 1}:0]" if width > 1 else ""
    return f"{kind} {vec:<8} {name}"


def _hex32(value: int) -> str:
    return f"32'h{value >> 16:04X}_{value & 0xFFFF:04X}"


def module_head(standalone: str) -> str:
    """`module cl_tickgate` with the shell's port list (`cl_ports.vh`, or `standalone` declarations under
    TICKGATE_STANDALONE) and the reset both shells take: `rst_main_n` low or a function-level reset, through two
    flops into the core's active-high reset, and `cl_sh_flr_done` pulsed once the reset has reached the core."""
    return f"""\
module {CL_MODULE}
`ifdef TICKGATE_STANDALONE
(
{standalone}
);
`else
(
   `include "cl_ports.vh"
);
`endif

   // Reset: rst_main_n low or a function-level reset, through two flops into the core's active-high reset.
   logic [1:0] rst_pipe = 2'b11;
   logic [1:0] flr_pipe = 2'b00;
   always_ff @(posedge clk_main_a0) begin
      rst_pipe <= {{rst_pipe[0], ~rst_main_n | sh_cl_flr_assert}};
      flr_pipe <= {{flr_pipe[0], sh_cl_flr_assert & rst_pipe[1]}};
   end
   // One pulse once a function-level reset has reached the core.
   assign cl_sh_flr_done = flr_pipe[0] & ~flr_pipe[1];"""


def cl_top(config_name: str) -> str:
    """The text of `cl_tickgate.sv` for configuration `config_name` (named in its header only)."""
    counts = PcisCounts.size
    flags = ", ".join(f"|pcis_counts[{f.offset + f.width - 1}:{f.offset}]"
                      for _, f in reversed(list(PcisCounts)))  # MSB first: the first member is bit 0
    vled_bits = len(VLED_BITS)
    ports = [*(g for g in GLOBAL_PORTS), *((d, w, s) for d, w, s, _ in OCL_PORTS),
             *((d, w, s) for d, w, s, _ in PCIS_PORTS)]
    standalone = ",\n".join(f"   {_decl(*p)}" for p in ports)
    ocl = ",\n".join(f"      .ocl__{core}({shell})" for _, _, shell, core in OCL_PORTS)
    pcis = ",\n".join(f"      .pcis__{core}({shell})" for _, _, shell, core in PCIS_PORTS)
    templates = "\n".join(f'`include "{t}"' for t in HDK_TEMPLATES)
    return f"""\
// {CL_MODULE}: the tickgate custom logic for the AWS F1 shell. Generated by tickgate.bitstreams.cl_top for
// configuration `{config_name}`; do not edit. The pipeline is module {CORE_MODULE} (Amaranth, {CORE_MODULE}.v).
// IDs: cl_sh_id0 {_hex32(cl_sh_id0())} (device:vendor), cl_sh_id1 {_hex32(cl_sh_id1())} (subsystem:vendor).
// Register map version {MAP_VERSION} on OCL (BAR0); DMA windows on PCIS (BAR4); clock recipe A1 (250 MHz).

{module_head(standalone)}

   assign cl_sh_id0 = {_hex32(cl_sh_id0())};
   assign cl_sh_id1 = {_hex32(cl_sh_id1())};
   assign cl_sh_status0 = {_hex32(ID_MAGIC)};  // the register map's `id`
   assign cl_sh_status1 = 32'd{MAP_VERSION};  // the register map's version
   assign cl_sh_dma_wr_full = 1'b0;  // the DMA bridge never stalls a transaction (hdl/pcis.py)
   assign cl_sh_dma_rd_full = 1'b0;

   // Sticky DMA error flags on the virtual LEDs (fpga-get-virtual-led): {", ".join(VLED_BITS)}.
   logic [{counts - 1}:0] pcis_counts;
   logic [{vled_bits - 1}:0] vled = '0;
   always_ff @(posedge clk_main_a0) vled <= rst_pipe[1] ? '0 : vled | {{{flags}}};
   assign cl_sh_status_vled = {{{16 - vled_bits}'b0, vled}};

   {CORE_MODULE} CORE (
      .clk(clk_main_a0),
      .rst(rst_pipe[1]),
{ocl},
{pcis},
      .pcis_counts(pcis_counts)
   );

`ifndef TICKGATE_STANDALONE
   // Interfaces this design does not use, tied off with the shell's own templates.
{templates}
   assign tdo = 1'b0;  // no virtual JTAG debug bridge
`endif

endmodule
"""


def shell_standin() -> str:
    """A stand-in for the F1 shell (module `tickgate_f1_shell`): the CL top with uniformly named buses.

    `ocl_*` and `pcis_*` are AXI names on one prefix each (as cocotbext-axi finds them); `clk`, `rst_n`, `flr`,
    and the CL's ID, status, LED and FLR-done outputs. The F1 shell issues INCR bursts only and has no AxBURST:
    the stand-in takes `pcis_awburst` / `pcis_arburst` (AXI managers drive them) and sets `not_incr` (sticky
    until reset) if a burst of another type is issued. For Verilator lint and simulation only.
    """
    lines = [
        "// tickgate_f1_shell: a stand-in for the AWS F1 shell around cl_tickgate, for Verilator lint and cocotb.",
        "// Generated by tickgate.bitstreams.cl_top; the AWS shell's own simulation model does not run on Verilator.",
        f"module {SHELL_MODULE} (",
        "   input  logic          clk,",
        "   input  logic          rst_n,",
        "   input  logic          flr,",
        "   output logic          flr_done,",
        "   output logic [31:0]   id0, id1, status0, status1,",
        "   output logic [15:0]   vled,",
        "   output logic          wr_full, rd_full,",
        "   input  logic [1:0]    pcis_awburst, pcis_arburst,",
        "   output logic          not_incr,",
    ]
    buses = [(d, w, f"ocl_{core}", shell) for d, w, shell, core in OCL_PORTS]
    buses += [(d, w, f"pcis_{core}", shell) for d, w, shell, core in PCIS_PORTS]
    lines += [f"   {_decl(d, w, ours)}{',' if n < len(buses) - 1 else ''}" for n, (d, w, ours, _) in enumerate(buses)]
    lines += [");", f"   {CL_MODULE} CL (", "      .clk_main_a0(clk),", "      .rst_main_n(rst_n),",
              "      .sh_cl_flr_assert(flr),", "      .cl_sh_flr_done(flr_done),",
              "      .cl_sh_id0(id0), .cl_sh_id1(id1), .cl_sh_status0(status0), .cl_sh_status1(status1),",
              "      .cl_sh_status_vled(vled), .cl_sh_dma_wr_full(wr_full), .cl_sh_dma_rd_full(rd_full),"]
    lines += [f"      .{shell}({ours}){',' if n < len(buses) - 1 else ''}"
              for n, (_, _, ours, shell) in enumerate(buses)]
    lines += ["   );",
              "   always_ff @(posedge clk)",
              "      not_incr <= rst_n & (not_incr | pcis_awvalid & (pcis_awburst != 2'b01)",
              "                                    | pcis_arvalid & (pcis_arburst != 2'b01));",
              "endmodule", ""]
    return "\n".join(lines)
