import { formatValue, type Unit } from '@/lib/ui/format';

export interface TileSpec {
  id: string;
  label: string;
  value: number | null;
  unit: Unit;
  /** A second figure, e.g. the p99 beside a p50. */
  detail?: { label: string; value: number | null; unit: Unit };
}

export function Tiles({ tiles }: { tiles: TileSpec[] }) {
  return (
    <div className="tiles">
      {tiles.map((tile) => (
        <div key={tile.id} className="card tile" data-testid={`tile-${tile.id}`}>
          <div className="tile-label">{tile.label}</div>
          <div className="tile-value" data-testid={`tile-${tile.id}-value`}>
            {formatValue(tile.value, tile.unit)}
          </div>
          {tile.detail ? (
            <div className="tile-detail">
              {tile.detail.label} {formatValue(tile.detail.value, tile.detail.unit)}
            </div>
          ) : null}
        </div>
      ))}
    </div>
  );
}
