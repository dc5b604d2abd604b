'use client';

/*
 * The recharts wrappers every view uses. Props are plain data and a unit name (functions
 * cannot cross from a server component), and each wrapper formats ticks and tooltips
 * from the unit so every axis says what it measures.
 */
import type { ReactNode } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { formatTick, formatValue, unitLabel, type Unit } from '@/lib/ui/format';

export interface SeriesSpec {
  key: string;
  label: string;
  color: string;
}

export type Datum = Record<string, number | string | null>;

const AXIS = { stroke: 'var(--axis)', fontSize: 12, tickLine: false } as const;
const GRID = <CartesianGrid stroke="var(--grid)" strokeDasharray="3 3" vertical={false} />;
const TOOLTIP_STYLE = { borderRadius: 8, border: '1px solid var(--border)', fontSize: 12 } as const;
const HEIGHT = 220;

export function ChartCard({ title, unit, children, testId }: { title: string; unit?: Unit; children: ReactNode; testId?: string }) {
  const label = unit ? unitLabel(unit) : '';
  return (
    <figure className="card chart-card" data-testid={testId}>
      <figcaption>
        {title}
        {label ? <span className="unit">{label}</span> : null}
      </figcaption>
      {children}
    </figure>
  );
}

function timeFormatter(from: number, to: number): (ms: number) => string {
  const long = to - from > 36 * 3600_000;
  const format = new Intl.DateTimeFormat(undefined, long ? { month: 'short', day: 'numeric', hour: '2-digit', hourCycle: 'h23' } : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (ms) => format.format(new Date(ms));
}

const fullTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' });

interface TimeSeriesProps {
  title: string;
  unit: Unit;
  data: Datum[];
  series: SeriesSpec[];
  from: number;
  to: number;
  testId?: string;
}

/**
 * Ticks of a percentage axis: whole multiples of 5 % split in five, so a near-zero error
 * rate reads 0–5 % rather than recharts' 0–400 % for an all-zero series.
 */
function percentTicks(data: Datum[], series: SeriesSpec[]): number[] {
  const max = Math.max(0, ...data.flatMap((d) => series.map((s) => Number(d[s.key] ?? 0))));
  const top = Math.max(0.05, Math.ceil(max / 0.05) * 0.05);
  return Array.from({ length: 6 }, (_, i) => (top * i) / 5);
}

/** Below this many points a series is drawn with dots too: an isolated point has no line. */
const DOTS_BELOW = 40;

export function TimeSeriesChart({ title, unit, data, series, from, to, testId }: TimeSeriesProps) {
  const tick = timeFormatter(from, to);
  const points = data.filter((d) => series.some((s) => d[s.key] !== null)).length;
  const ratioTicks = unit === 'ratio' ? percentTicks(data, series) : undefined;
  return (
    <ChartCard title={title} unit={unit} testId={testId}>
      <ResponsiveContainer width="100%" height={HEIGHT}>
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          {GRID}
          <XAxis dataKey="time" type="number" scale="time" domain={[from, to]} tickFormatter={tick} minTickGap={40} {...AXIS} />
          <YAxis
            width={56}
            tickFormatter={(v: number) => formatTick(v, unit)}
            domain={ratioTicks ? [0, ratioTicks[ratioTicks.length - 1]] : [0, 'auto']}
            ticks={ratioTicks}
            {...AXIS}
          />
          <Tooltip
            contentStyle={TOOLTIP_STYLE}
            labelFormatter={(ms) => fullTime.format(new Date(Number(ms)))}
            formatter={(value) => formatValue(Number(value), unit)}
          />
          {series.length > 1 ? <Legend iconType="plainline" itemSorter={null} wrapperStyle={{ fontSize: 12 }} /> : null}
          {series.map((s) => (
            <Line key={s.key} type="linear" dataKey={s.key} name={s.label} stroke={s.color} strokeWidth={2} dot={points < DOTS_BELOW ? { r: 2.5, fill: s.color, strokeWidth: 0 } : false} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}

interface BarsProps {
  title: string;
  unit: Unit;
  data: Datum[];
  /** The field naming each bar's category. */
  category: string;
  /** Axis title of the categories. */
  categoryLabel: string;
  bars: SeriesSpec[];
  stacked?: boolean;
  testId?: string;
}

export function BarsChart({ title, unit, data, category, categoryLabel, bars, stacked, testId }: BarsProps) {
  return (
    <ChartCard title={title} unit={unit} testId={testId}>
      <ResponsiveContainer width="100%" height={HEIGHT}>
        <BarChart data={data} margin={{ top: 8, right: 16, bottom: 16, left: 0 }}>
          {GRID}
          <XAxis dataKey={category} {...AXIS} label={{ value: categoryLabel, position: 'insideBottom', offset: -10, fontSize: 12, fill: 'var(--muted)' }} />
          <YAxis width={56} tickFormatter={(v: number) => formatTick(v, unit)} {...AXIS} />
          <Tooltip contentStyle={TOOLTIP_STYLE} formatter={(value) => formatValue(Number(value), unit)} cursor={{ fill: 'var(--hover)' }} />
          {bars.length > 1 ? <Legend verticalAlign="top" iconType="square" itemSorter={null} wrapperStyle={{ fontSize: 12 }} /> : null}
          {bars.map((b) => (
            <Bar key={b.key} dataKey={b.key} name={b.label} fill={b.color} stackId={stacked ? 'stack' : undefined} isAnimationActive={false} maxBarSize={48} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}

interface TokenTimelineProps {
  tokens: { index: number; offsetMs: number }[];
  ttftMs: number | null;
  durationMs: number;
}

/** Arrival of every output token after the request was sent; TTFT marked. */
export function TokenTimeline({ tokens, ttftMs, durationMs }: TokenTimelineProps) {
  return (
    <ChartCard title="Token timeline: arrival of each output token" testId="token-timeline">
      <ResponsiveContainer width="100%" height={280}>
        <ScatterChart margin={{ top: 16, right: 24, bottom: 16, left: 0 }}>
          {GRID}
          <XAxis
            dataKey="offsetMs"
            type="number"
            name="arrival"
            domain={[0, Math.ceil(durationMs)]}
            tickFormatter={(v: number) => formatTick(v, 'ms')}
            label={{ value: 'time since request sent (ms)', position: 'insideBottom', offset: -10, fontSize: 12, fill: 'var(--muted)' }}
            {...AXIS}
          />
          <YAxis
            dataKey="index"
            type="number"
            name="token"
            width={56}
            allowDecimals={false}
            label={{ value: 'token #', angle: -90, position: 'insideLeft', fontSize: 12, fill: 'var(--muted)' }}
            {...AXIS}
          />
          <Tooltip
            contentStyle={TOOLTIP_STYLE}
            cursor={{ strokeDasharray: '3 3' }}
            formatter={(value, name) => (name === 'arrival' ? formatValue(Number(value), 'ms') : `#${value}`)}
          />
          {ttftMs !== null ? (
            <ReferenceLine
              x={ttftMs}
              stroke="var(--accent-2)"
              strokeDasharray="4 4"
              label={{ value: `TTFT ${formatValue(ttftMs, 'ms')}`, position: 'insideTopLeft', fontSize: 12, fill: 'var(--accent-2)' }}
            />
          ) : null}
          <Scatter data={tokens} fill="var(--accent)" line={{ stroke: 'var(--accent)', strokeOpacity: 0.35 }} isAnimationActive={false} />
        </ScatterChart>
      </ResponsiveContainer>
    </ChartCard>
  );
}
