export { LoadingView as default } from '../../_components/route-states';
