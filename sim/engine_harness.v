// Simulation harness for the pezo ZO engine (Verilog-2005, for Icarus and Verilator).
// It holds the weight memory (loaded from the hex file named by +weights=<path>, one beat per line), makes its own
// 100 MHz clock, and on `start` runs one pass of `beats_in` beats: it offers the weights in order with random gaps,
// takes the engine's output with random backpressure (both from a seeded xorshift32, with probabilities
// w_chance / 65536 and out_chance / 65536; an offered beat stays offered until taken), writes every output beat
// ({last, lanes}) as one hex line to the file named by +dump=<path>, and writes the updated weights back into the
// memory (mode 2). Python only sets the pass's inputs and pulses start; the HDL does all per-cycle work.
`timescale 1ns/1ps
module pezo_engine_harness #(
    parameter LANES = 1,
    parameter FORMAT_BITS = 32,
    parameter LENGTH_BITS = 32,
    parameter DEPTH = 1024,
    parameter HOP_BITS = 1
) (
    input  wire                   rst,
    input  wire [1:0]             mode,
    input  wire [5:0]             e,
    input  wire [31:0]            c,
    input  wire [31:0]            d,
    input  wire [LENGTH_BITS-1:0] length,
    input  wire [HOP_BITS-1:0]    hop,
    input  wire [31:0]            beats_in,
    input  wire                   start,
    input  wire [16:0]            w_chance,
    input  wire [16:0]            out_chance,
    input  wire [31:0]            seed,
    input  wire                   flush,
    output wire                   idle,
    output wire                   busy,
    output reg  [31:0]            sent,
    output reg  [31:0]            received
);
    localparam BEAT_BITS = LANES * FORMAT_BITS;

    reg                  clk;
    reg  [BEAT_BITS-1:0] memory [0:DEPTH-1];
    reg  [31:0]          beats;
    reg  [31:0]          random;
    reg                  offered;
    wire                 w_ready, perturbed_valid, updated_valid, perturbed_last, updated_last;
    wire [BEAT_BITS-1:0] perturbed_values, updated_values;
    wire                 out_ready = {1'b0, random[31:16]} < out_chance;
    wire [31:0]          shifted = random ^ (random << 13);
    wire [31:0]          mixed = shifted ^ (shifted >> 17);
    wire [31:0]          following = mixed ^ (mixed << 5);     // xorshift32
    wire                 w_fire = offered && w_ready;
    wire                 perturbed_fire = perturbed_valid && out_ready;
    wire                 updated_fire = updated_valid && out_ready;

    `PEZO_DUT dut (
        .clk(clk), .rst(rst),
        .w__payload(memory[sent]), .w__valid(offered), .w__ready(w_ready),
        .perturbed__payload({perturbed_last, perturbed_values}), .perturbed__valid(perturbed_valid),
        .perturbed__ready(out_ready),
        .updated__payload({updated_last, updated_values}), .updated__valid(updated_valid),
        .updated__ready(out_ready),
`ifdef PEZO_HOP
        .hop(hop),
`endif
        .mode(mode), .e(e), .c(c), .d(d), .length(length), .busy(busy), .restart(1'b0)
    );

    assign idle = received == beats;

    integer dump_file;
    reg [8*1024-1:0] dump_path, weights_path;
    initial begin
        clk = 0;
        beats = 0;
        sent = 0;
        received = 0;
        offered = 0;
        random = 32'h1;
        if ($value$plusargs("weights=%s", weights_path))
            $readmemh(weights_path, memory);
        if ($value$plusargs("dump=%s", dump_path))
            dump_file = $fopen(dump_path, "w");
        else
            dump_file = 0;
    end

    always #5 clk = ~clk;

    always @(posedge clk) begin
        random <= following;
        if (start) begin
            beats <= beats_in;
            sent <= 0;
            received <= 0;
            offered <= 0;
            random <= seed;
        end else begin
            if (w_fire)
                sent <= sent + 1;
            if (!offered || w_fire)
                offered <= (sent + w_fire < beats) && ({1'b0, random[15:0]} < w_chance);
            if (perturbed_fire || updated_fire) begin
                received <= received + 1;
                if (dump_file != 0)
                    $fwrite(dump_file, "%h\n", perturbed_fire ? {perturbed_last, perturbed_values}
                                                              : {updated_last, updated_values});
            end
            if (updated_fire)
                memory[received] <= updated_values;
        end
        if (flush && dump_file != 0)
            $fflush(dump_file);
    end
endmodule
