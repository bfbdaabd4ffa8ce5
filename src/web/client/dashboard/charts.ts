import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";
import type { MetricHistory } from "./metric-history";
import type { Metric } from "./operations";

export interface ChartSeries {
  label: string;
  color: string;
  value(point: Metric): number | null;
  /** Sparse series (eval loss) are drawn with dots as well as lines. */
  sparse?: boolean;
}

export interface MetricChartOptions {
  testId: string;
  title: string;
  series: ChartSeries[];
  formatValue?: (value: number) => string;
}

/**
 * A uPlot line chart over steps. Its container carries `data-points` (how many steps are drawn) and
 * `data-last-step`, for people debugging and for the browser tests.
 */
export class MetricChart {
  readonly element: HTMLElement;
  private readonly canvasHost: HTMLElement;
  private readonly empty: HTMLElement;
  private plot: uPlot | undefined;
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(private readonly options: MetricChartOptions) {
    this.canvasHost = h("div", { class: "chart__plot" });
    this.empty = h("p", { class: "chart__empty muted" }, "Waiting for the first metrics…");
    this.element = h(
      "figure",
      { class: "chart card", "data-testid": options.testId, "data-points": 0, "aria-label": options.title },
      h("figcaption", { class: "chart__title" }, options.title),
      this.canvasHost,
      this.empty,
    );
    this.resize.observe(this.element);
  }

  draw(history: MetricHistory): void {
    const data: uPlot.AlignedData = [
      history.steps,
      ...this.options.series.map((series) => history.points.map((point) => series.value(point))),
    ];
    this.empty.hidden = history.steps.length > 0;
    if (!this.plot) this.plot = new uPlot(this.plotOptions(), data, this.canvasHost);
    else this.plot.setData(data);
    this.element.dataset.points = String(history.steps.length);
    this.element.dataset.lastStep = String(history.lastStep);
  }

  dispose(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }

  private width(): number {
    return Math.max(280, this.canvasHost.clientWidth || this.element.clientWidth - 32 || 600);
  }

  private fit(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 1)
      this.plot.setSize({ width: this.width(), height: 240 });
  }

  private plotOptions(): uPlot.Options {
    const formatValue = this.options.formatValue;
    const format = (value: number) =>
      formatValue ? formatValue(value) : String(Number(value.toPrecision(3)));
    const axis: uPlot.Axis = {
      stroke: "#5b6472",
      grid: { stroke: "#e7eaf0", width: 1 },
      ticks: { stroke: "#e7eaf0", width: 1 },
    };
    return {
      width: this.width(),
      height: 240,
      scales: { x: { time: false } },
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      axes: [
        { ...axis, label: "step" },
        { ...axis, size: 64, values: (_plot, values) => values.map((value) => format(value)) },
      ],
      series: [
        { label: "step" },
        ...this.options.series.map((series): uPlot.Series => ({
          label: series.label,
          stroke: series.color,
          width: 2,
          spanGaps: true,
          points: { show: series.sparse ?? false, size: 5, fill: series.color },
          value: (_plot, value) => (value === null || value === undefined ? "—" : format(value)),
        })),
      ],
    };
  }
}
