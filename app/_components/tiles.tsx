import { formatParts, formatValue, type Unit } from '@/lib/ui/format';

export interface TileSpec {
  id: string;
  label: string;
  value: number | null;
  unit: Unit;
  /** A second figure, e.g. the p99 beside a p50. */
  detail?: { label: string; value: number | null; unit: Unit };
}

function Tile({ tile }: { tile: TileSpec }) {
  const value = formatParts(tile.value, tile.unit);
  return (
    <div className="card tile" data-testid={`tile-${tile.id}`}>
      <div className="tile-label">{tile.label}</div>
      <div className="tile-value" data-testid={`tile-${tile.id}-value`}>
        {value.number}
        {value.unit ? <span className="tile-unit"> {value.unit}</span> : null}
      </div>
      {tile.detail ? (
        <div className="tile-detail">
          {tile.detail.label} {formatValue(tile.detail.value, tile.detail.unit)}
        </div>
      ) : null}
    </div>
  );
}

export function Tiles({ tiles }: { tiles: TileSpec[] }) {
  return (
    <div className="tiles">
      {tiles.map((tile) => (
        <Tile key={tile.id} tile={tile} />
      ))}
    </div>
  );
}
