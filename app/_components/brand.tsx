export function Brand({ as: Tag = 'span' }: { as?: 'span' | 'h1' }) {
  return (
    <Tag className="brand">
      <span className="brand-mark" aria-hidden />
      Streamscope
    </Tag>
  );
}
