// The sim backend's top: the pipeline (`tickgate_pipeline`, input "dma") with every input it has either
// constant or loaded into a register here, so that no logic of the pipeline depends on a top-level input.
//
// Why: Verilator re-evaluates, at every eval() call, all logic that depends on a top-level input (its
// "ico" region) before it looks at the clock. With the pipeline's own ports on top, that was the reset
// into every register's next value, events.ready back through the engine's hand-shakes, the DMA word
// through the unframer and framer, and the AXI-Lite addresses into the CSR block: about a quarter of the
// model's time, paid on both evals of every cycle. Here that logic depends on registers only, and is
// evaluated once, after the rising edge.
//
// - events.ready is always high (the harness keeps every event), dma_status always 0.
// - reset: `rst_req` high at an edge holds the pipeline's reset for the next 4 cycles.
// - input: a one-word register slice. `in_ready` says whether a word offered now (`in_valid`,
//   `in_payload`) is taken at the next edge; the pipeline sees it one cycle later. `in_busy`: a word is
//   still held here.
// - CSR: a one-transaction AXI-Lite master. `bus_go` high at an edge starts a write (`bus_write`) of
//   `bus_wdata` or a read at `bus_addr`; AW/W/AR are held until each is taken; B and R are always
//   ready, so their valid, resp and data are the pipeline's outputs (a one-cycle pulse).
//
// Only the ports below are visible to the harness (no --public): Verilator keeps or removes everything
// inside as it likes.
module tickgate_sim #(
    parameter int COUNTERS = 64,  // width of the pipeline's counters port
    parameter int ADDR = 12,      // width of an AXI-Lite address
    parameter int STATUS = 64     // width of dma_status
) (
    input  logic                clk,
    input  logic                rst_req,
    input  logic         [63:0] in_payload,
    input  logic                in_valid,
    output logic                in_ready,
    output logic                in_busy,
    input  logic                bus_go,
    input  logic                bus_write,
    input  logic     [ADDR-1:0] bus_addr,
    input  logic         [31:0] bus_wdata,
    output logic                bus_bvalid,
    output logic          [1:0] bus_bresp,
    output logic                bus_rvalid,
    output logic          [1:0] bus_rresp,
    output logic         [31:0] bus_rdata,
    output logic        [511:0] ev_payload,
    output logic                ev_valid,
    output logic [COUNTERS-1:0] counters
);
    logic [2:0] rst_left = 3'd0;
    wire rst = rst_left != 3'd0;
    always_ff @(posedge clk) begin
        if (rst_req) rst_left <= 3'd4;
        else if (rst) rst_left <= rst_left - 3'd1;
    end

    logic held = 1'b0;
    logic [63:0] word = 64'd0;
    wire dma_ready;
    assign in_ready = !held || dma_ready;
    assign in_busy = held;
    always_ff @(posedge clk) begin
        if (rst) held <= 1'b0;
        else if (in_ready) begin
            held <= in_valid;
            word <= in_payload;
        end
    end

    logic aw = 1'b0, w = 1'b0, ar = 1'b0;
    logic [ADDR-1:0] addr = '0;
    logic [31:0] wdata = 32'd0;
    wire awready, wready, arready;
    always_ff @(posedge clk) begin
        if (bus_go) begin
            aw <= bus_write;
            w <= bus_write;
            ar <= !bus_write;
            addr <= bus_addr;
            wdata <= bus_wdata;
        end else begin
            if (awready) aw <= 1'b0;
            if (wready) w <= 1'b0;
            if (arready) ar <= 1'b0;
        end
    end

    tickgate_pipeline pipeline (
        .clk(clk),
        .rst(rst),
        .dma_status(STATUS'(0)),
        .dma_in__payload(word),
        .dma_in__valid(held),
        .dma_in__ready(dma_ready),
        .events__payload(ev_payload),
        .events__valid(ev_valid),
        .events__ready(1'b1),
        .counters(counters),
        .csr__awaddr(addr),
        .csr__awvalid(aw),
        .csr__awready(awready),
        .csr__wdata(wdata),
        .csr__wstrb(4'hF),
        .csr__wvalid(w),
        .csr__wready(wready),
        .csr__bresp(bus_bresp),
        .csr__bvalid(bus_bvalid),
        .csr__bready(1'b1),
        .csr__araddr(addr),
        .csr__arvalid(ar),
        .csr__arready(arready),
        .csr__rdata(bus_rdata),
        .csr__rresp(bus_rresp),
        .csr__rvalid(bus_rvalid),
        .csr__rready(1'b1)
    );
endmodule
