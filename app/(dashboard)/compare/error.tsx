'use client';

export { ErrorView as default } from '../../_components/route-states';
