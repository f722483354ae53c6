"""The SystemVerilog custom-logic top for the AWS F2 small shell, its `cl_id_defines.vh`, and a shell stand-in.

`cl_tickgate.sv` wraps the Amaranth `ClCoreF2` (module `tickgate_core`) in the F2 shell's port conventions
(aws-fpga `hdk/common/shell_stable/design/interfaces/cl_ports.vh`):

- ports: `module cl_tickgate (`include "cl_ports.vh")`; with TICKGATE_STANDALONE defined (Verilator lint and
  simulation here, where the HDK is not) the ports the design uses are declared explicitly instead;
- `cl_id_defines.vh` (`cl_id_defines()`, from `protocol.f2_map.cl_sh_id0/1`) gives `CL_SH_ID0/1`; the HDK
  build parses it and the top includes it (standalone, its text comes before the top in the one file);
- `clk_main_a0` (250 MHz on F2) clocks everything; `rst_main_n` (active low) or a function-level reset
  (`sh_cl_flr_assert`) becomes the core's active-high synchronous `rst` through two flops, and
  `cl_sh_flr_done` pulses once the reset has been applied;
- OCL AXI-Lite (`ocl_cl_*` / `cl_ocl_*`, BAR0) goes to the register block, PCIS (`sh_cl_dma_pcis_*` /
  `cl_sh_dma_pcis_*`, BAR4, 16-bit IDs) to the ingress bridge, and the ring writer drives PCIM
  (`cl_sh_pcim_*` / `sh_cl_pcim_*`);
- `cl_sh_status0` is the register map's ID magic, `cl_sh_status1` its version, `cl_sh_status2` the ring's
  producer index; `cl_sh_status_vled` shows sticky error flags (`VLED_BITS`);
- in the HDK build, the rest is tied off as the F2 kit says: `sh_ddr` instantiated with DDR_PRESENT 0 by the
  shell's `unused_ddr_template.inc` (which wants `rst_main_n_sync`), SDA and interrupts by their templates,
  the HBM monitor's APB outputs, the C2C pins and the virtual JTAG `tdo` driven 0.
"""

from __future__ import annotations

from tickgate.hdl.pcim import PCIM_ID_WIDTH, RingCounts
from tickgate.hdl.pcis import DATA_USER_BITS, USER_BITS, PcisCounts
from tickgate.protocol.f2_map import cl_sh_id0, cl_sh_id1
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION

from .cl_top import CL_MODULE, CORE_MODULE, OCL_PORTS, _decl, _hex32, module_head

__all__ = ["CL_MODULE", "CORE_MODULE", "HDK_TEMPLATES", "ID_DEFINES_FILE", "SHELL_MODULE", "VLED_BITS",
           "cl_id_defines", "cl_top", "shell_standin"]

SHELL_MODULE = "tickgate_f2_shell"
ID_DEFINES_FILE = "cl_id_defines.vh"

#: `cl_sh_status_vled` bits: each set (until reset) once its counter has counted.
VLED_BITS: tuple[str, ...] = (*PcisCounts.members, *RingCounts.members)

#: The F2 shell's tie-off templates for what this CL does not use (HDK build only).
HDK_TEMPLATES = ("unused_ddr_template.inc", "unused_cl_sda_template.inc", "unused_apppf_irq_template.inc")

#: F2 OCL: the F1 names with `sh_ocl_` -> `ocl_cl_` and `ocl_sh_` -> `cl_ocl_`.
OCL_PORTS_F2: tuple[tuple[str, int, str, str], ...] = tuple(
    (d, w, s.replace("sh_ocl_", "ocl_cl_").replace("ocl_sh_", "cl_ocl_"), c) for d, w, s, c in OCL_PORTS)

_AXI = (  # (AXI name, width, driven by the manager) of the F2 shell's 512-bit AXI-4 buses, in cl_ports.vh order
    ("awid", 16, True), ("awaddr", 64, True), ("awlen", 8, True), ("awsize", 3, True), ("awburst", 2, True),
    ("awcache", 4, True), ("awlock", 1, True), ("awprot", 3, True), ("awqos", 4, True), ("awuser", USER_BITS, True),
    ("awvalid", 1, True), ("awready", 1, False),
    ("wid", 16, True), ("wdata", 512, True), ("wstrb", 64, True), ("wlast", 1, True),
    ("wuser", DATA_USER_BITS, True), ("wvalid", 1, True), ("wready", 1, False),
    ("bid", 16, False), ("bresp", 2, False), ("bvalid", 1, False), ("bready", 1, True),
    ("arid", 16, True), ("araddr", 64, True), ("arlen", 8, True), ("arsize", 3, True), ("arburst", 2, True),
    ("arcache", 4, True), ("arlock", 1, True), ("arprot", 3, True), ("arqos", 4, True), ("aruser", USER_BITS, True),
    ("arvalid", 1, True), ("arready", 1, False),
    ("rid", 16, False), ("rdata", 512, False), ("rresp", 2, False), ("rlast", 1, False),
    ("ruser", DATA_USER_BITS, False), ("rvalid", 1, False), ("rready", 1, True),
)
if PCIM_ID_WIDTH != 16:
    raise AssertionError("the F2 shell's AXI IDs are 16 bits")

#: (direction seen from the CL, width, shell port, core port) of PCIS: the shell is the manager.
PCIS_PORTS: tuple[tuple[str, int, str, str], ...] = tuple(
    ("input" if m else "output", w, f"sh_cl_dma_pcis_{n}" if m else f"cl_sh_dma_pcis_{n}", n) for n, w, m in _AXI)
#: The same for PCIM: the CL is the manager.
PCIM_PORTS: tuple[tuple[str, int, str, str], ...] = tuple(
    ("output" if m else "input", w, f"cl_sh_pcim_{n}" if m else f"sh_cl_pcim_{n}", n) for n, w, m in _AXI)

#: Ports of the CL top besides the buses, as declared in standalone mode.
GLOBAL_PORTS: tuple[tuple[str, int, str], ...] = (
    ("input", 1, "clk_main_a0"), ("input", 1, "rst_main_n"),
    ("input", 1, "sh_cl_flr_assert"), ("output", 1, "cl_sh_flr_done"),
    ("output", 32, "cl_sh_status0"), ("output", 32, "cl_sh_status1"), ("output", 32, "cl_sh_status2"),
    ("output", 32, "cl_sh_id0"), ("output", 32, "cl_sh_id1"),
    ("output", 16, "cl_sh_status_vled"),
    ("output", 1, "cl_sh_dma_wr_full"), ("output", 1, "cl_sh_dma_rd_full"),
)

#: Outputs of cl_ports.vh this design drives 0 in the HDK build (no template covers them).
HBM_APB_OUTPUTS = ("paddr", "pprot", "psel", "penable", "pwrite", "pwdata", "pstrb", "pready", "prdata", "pslverr")
C2C_OUTPUTS = ("PCIE_EP_TXP", "PCIE_EP_TXN", "PCIE_RP_PERSTN", "PCIE_RP_TXP", "PCIE_RP_TXN")


def cl_id_defines() -> str:
    """The text of `cl_id_defines.vh`: `CL_SH_ID0` / `CL_SH_ID1` from `protocol.f2_map` (the HDK build parses it)."""
    return f"""\
// cl_id_defines.vh of cl_tickgate. Generated by tickgate.bitstreams.cl_top_f2 from protocol/f2_map.py;
// do not edit. The F2 build reads the PCI IDs of the image from here.
`ifndef CL_ID_DEFINES
`define CL_ID_DEFINES

  // PCIe device ID (31:16) and vendor ID (15:0)
  `define CL_SH_ID0       {_hex32(cl_sh_id0())}

  // PCIe subsystem ID (31:16) and subsystem vendor ID (15:0)
  `define CL_SH_ID1       {_hex32(cl_sh_id1())}

`endif
"""


def cl_top(config_name: str) -> str:
    """The text of the F2 `cl_tickgate.sv` for configuration `config_name` (named in its header only)."""
    pcis_bits, ring_bits = PcisCounts.size, RingCounts.size

    def flags(layout, name: str) -> str:
        return ", ".join(f"|{name}[{f.offset + f.width - 1}:{f.offset}]" for _, f in reversed(list(layout)))

    vled_bits = len(VLED_BITS)
    ports = [*GLOBAL_PORTS, *((d, w, s) for d, w, s, _ in (*OCL_PORTS_F2, *PCIS_PORTS, *PCIM_PORTS))]
    standalone = ",\n".join(f"   {_decl(*p)}" for p in ports)
    buses = ",\n".join(f"      .{prefix}__{core}({shell})" for prefix, table in
                       (("ocl", OCL_PORTS_F2), ("pcis", PCIS_PORTS), ("pcim", PCIM_PORTS))
                       for _, _, shell, core in table)
    templates = "\n".join(f'`include "{t}"' for t in HDK_TEMPLATES)
    hbm = "\n".join(f"   assign hbm_apb_{s}_{i} = '0;" for i in (0, 1) for s in HBM_APB_OUTPUTS)
    c2c = "\n".join(f"   assign {name} = '0;" for name in C2C_OUTPUTS)
    return f"""\
// {CL_MODULE}: the tickgate custom logic for the AWS F2 small shell. Generated by tickgate.bitstreams.cl_top_f2
// for configuration `{config_name}`; do not edit. The pipeline is module {CORE_MODULE} (Amaranth, {CORE_MODULE}.v).
// Register map version {MAP_VERSION} on OCL (BAR0); packets in by PCIS (BAR4); events out by PCIM into the
// host ring (protocol/f2_map.py); clk_main_a0 250 MHz.

`ifndef TICKGATE_STANDALONE
`include "{ID_DEFINES_FILE}"
`endif

{module_head(standalone)}

   assign cl_sh_id0 = `CL_SH_ID0;
   assign cl_sh_id1 = `CL_SH_ID1;
   assign cl_sh_status0 = {_hex32(ID_MAGIC)};  // the register map's `id`
   assign cl_sh_status1 = 32'd{MAP_VERSION};  // the register map's version
   assign cl_sh_dma_wr_full = 1'b0;  // the PCIS bridge never stalls a transaction (hdl/pcis.py)
   assign cl_sh_dma_rd_full = 1'b0;

   // Sticky error flags on the virtual LEDs (fpga-get-virtual-led): {", ".join(VLED_BITS)}.
   logic [{pcis_bits - 1}:0] pcis_counts;
   logic [{ring_bits - 1}:0] ring_counts;
   logic [{vled_bits - 1}:0] vled = '0;
   always_ff @(posedge clk_main_a0)
      vled <= rst_pipe[1] ? '0 : vled | {{{flags(RingCounts, "ring_counts")}, {flags(PcisCounts, "pcis_counts")}}};
   assign cl_sh_status_vled = {{{16 - vled_bits}'b0, vled}};

   {CORE_MODULE} CORE (
      .clk(clk_main_a0),
      .rst(rst_pipe[1]),
{buses},
      .pcis_counts(pcis_counts),
      .ring_counts(ring_counts),
      .ring_producer(cl_sh_status2)
   );

`ifndef TICKGATE_STANDALONE
   // Interfaces this design does not use, tied off as the F2 kit says.
   logic rst_main_n_sync;  // the DDR template's reset
   assign rst_main_n_sync = ~rst_pipe[1];
{templates}
{hbm}
{c2c}
   assign tdo = 1'b0;  // no virtual JTAG debug bridge
`endif

endmodule
"""


def shell_standin() -> str:
    """A stand-in for the F2 shell (module `tickgate_f2_shell`): the CL top with uniformly named buses.

    `ocl_*`, `pcis_*` and `pcim_*` are AXI names on one prefix each (as cocotbext-axi finds them: the testbench
    is the manager of OCL and PCIS and host memory on PCIM); `clk`, `rst_n`, `flr`, and the CL's ID, status, LED
    and FLR-done outputs. PCIS WID (AXI-3, not driven by AXI-4 managers) is AWID of the burst under way; the
    CL's PCIM WID is an output `pcim_wid`. For Verilator lint and simulation only.
    """
    lines = [
        "// tickgate_f2_shell: a stand-in for the AWS F2 shell around cl_tickgate, for Verilator lint and cocotb.",
        "// Generated by tickgate.bitstreams.cl_top_f2; the AWS shell's own simulation model does not run here.",
        f"module {SHELL_MODULE} (",
        "   input  logic          clk,",
        "   input  logic          rst_n,",
        "   input  logic          flr,",
        "   output logic          flr_done,",
        "   output logic [31:0]   id0, id1, status0, status1, status2,",
        "   output logic [15:0]   vled,",
        "   output logic          wr_full, rd_full,",
    ]
    buses = [(d, w, f"ocl_{core}", shell) for d, w, shell, core in OCL_PORTS_F2]
    buses += [(d, w, f"pcis_{core}", shell) for d, w, shell, core in PCIS_PORTS if core != "wid"]
    buses += [(d, w, f"pcim_{core}", shell) for d, w, shell, core in PCIM_PORTS]
    lines += [f"   {_decl(d, w, ours)}{',' if n < len(buses) - 1 else ''}" for n, (d, w, ours, _) in enumerate(buses)]
    lines += [");",
              "   // AXI-4 has no WID: the shell's is the ID of the write burst whose data is under way.",
              "   logic [15:0] pcis_wid;",
              "   logic [15:0] wid_queue [0:31];",
              "   logic [4:0] wid_head = '0, wid_tail = '0;",
              "   always_ff @(posedge clk) begin",
              "      if (pcis_awvalid & pcis_awready) begin",
              "         wid_queue[wid_tail] <= pcis_awid;",
              "         wid_tail <= wid_tail + 5'd1;",
              "      end",
              "      if (pcis_wvalid & pcis_wready & pcis_wlast) wid_head <= wid_head + 5'd1;",
              "   end",
              "   assign pcis_wid = wid_queue[wid_head];",
              f"   {CL_MODULE} CL (", "      .clk_main_a0(clk),", "      .rst_main_n(rst_n),",
              "      .sh_cl_flr_assert(flr),", "      .cl_sh_flr_done(flr_done),",
              "      .cl_sh_id0(id0), .cl_sh_id1(id1), .cl_sh_status0(status0), .cl_sh_status1(status1),",
              "      .cl_sh_status2(status2), .cl_sh_status_vled(vled), .cl_sh_dma_wr_full(wr_full),",
              "      .cl_sh_dma_rd_full(rd_full),",
              "      .sh_cl_dma_pcis_wid(pcis_wid),"]
    lines += [f"      .{shell}({ours}){',' if n < len(buses) - 1 else ''}"
              for n, (_, _, ours, shell) in enumerate(buses)]
    lines += ["   );", "endmodule", ""]
    return "\n".join(lines)
